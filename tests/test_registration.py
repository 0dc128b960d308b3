"""The bot's Entra identity: single tenant by default, or a user-assigned managed identity."""

import pytest

from bot.auth import sdk_configuration
from bot.config import ConfigError, Settings, load_settings

APP_ID = "00000000-0000-4000-8000-00000000a991"
TENANT_ID = "72f988bf-0000-4000-8000-00000000c0c1"
LINK_KEY = "k" * 32
PUBLIC_URL = "https://engagement.council.example"


def test_new_registrations_are_single_tenant_by_default():
    # Azure creates only single-tenant bots since July 2025: a council left on the default gets tokens.
    assert Settings().app_type == "SingleTenant"
    assert load_settings({}).app_type == "SingleTenant"
    settings = load_settings(
        {
            "MICROSOFT_APP_ID": APP_ID,
            "MICROSOFT_APP_PASSWORD": "secret",
            "MICROSOFT_APP_TENANT_ID": TENANT_ID,
            "PUBLIC_URL": PUBLIC_URL,
        }
    )
    assert (settings.app_type, settings.tenant_id) == ("SingleTenant", TENANT_ID)
    assert sdk_configuration(settings).APP_TYPE == "SingleTenant"


def test_a_local_bot_without_an_app_id_stays_unauthenticated():
    # The SDK's single-tenant and managed identity modes insist on an app id; its MultiTenant mode
    # without one is the unauthenticated mode `make run` uses.
    assert sdk_configuration(load_settings({})).APP_TYPE == "MultiTenant"


def test_a_user_assigned_managed_identity_needs_no_password():
    settings = load_settings(
        {
            "MICROSOFT_APP_TYPE": "UserAssignedMSI",
            "MICROSOFT_APP_ID": APP_ID,
            "MICROSOFT_APP_TENANT_ID": TENANT_ID,
            "LINK_SIGNING_KEY": LINK_KEY,
            "PUBLIC_URL": PUBLIC_URL,
        }
    )
    assert (settings.app_type, settings.app_id, settings.app_password) == ("UserAssignedMSI", APP_ID, "")
    assert not settings.local_only


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"MICROSOFT_APP_TENANT_ID": ""}, "MICROSOFT_APP_TENANT_ID is required"),
        ({"MICROSOFT_APP_ID": ""}, "MICROSOFT_APP_ID, the identity's client id, is required"),
        ({"MICROSOFT_APP_PASSWORD": "a-secret"}, "MICROSOFT_APP_PASSWORD is not used with UserAssignedMSI"),
        ({"LINK_SIGNING_KEY": ""}, "LINK_SIGNING_KEY is required with UserAssignedMSI"),
    ],
)
def test_a_managed_identity_is_refused_without_what_it_needs(change, message):
    env = {
        "MICROSOFT_APP_TYPE": "UserAssignedMSI",
        "MICROSOFT_APP_ID": APP_ID,
        "MICROSOFT_APP_TENANT_ID": TENANT_ID,
        "LINK_SIGNING_KEY": LINK_KEY,
        **change,
    }
    with pytest.raises(ConfigError, match=message):
        load_settings(env)


@pytest.mark.parametrize("public_url", ["", "http://engagement.council.example"])
def test_letter_links_never_travel_in_the_clear_once_the_bot_is_registered(public_url):
    # Plain http is for a local bot with no app id; a registered one sends letters to browsers.
    env = {
        "MICROSOFT_APP_ID": APP_ID,
        "MICROSOFT_APP_PASSWORD": "secret",
        "MICROSOFT_APP_TENANT_ID": TENANT_ID,
        "PUBLIC_URL": public_url,
    }
    with pytest.raises(
        ConfigError, match="PUBLIC_URL must be an https:// address when MICROSOFT_APP_ID is set"
    ):
        load_settings(env)
    assert load_settings({"PUBLIC_URL": "http://127.0.0.1:3978"}).base_url == "http://127.0.0.1:3978"


@pytest.mark.parametrize("app_type", ["SingleTenant", "MultiTenant"])
def test_a_secret_is_still_required_for_an_app_registration(app_type):
    env = {"MICROSOFT_APP_TYPE": app_type, "MICROSOFT_APP_ID": APP_ID, "MICROSOFT_APP_TENANT_ID": TENANT_ID}
    with pytest.raises(ConfigError, match="MICROSOFT_APP_PASSWORD is required"):
        load_settings(env)
