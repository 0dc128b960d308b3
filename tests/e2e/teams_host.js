// A stand-in for TeamsJS (`microsoftTeams`), answering the page as Teams answers a personal tab:
// the signed-in person's SSO token, the theme, and the page a deep link names (subPageId).
// tests/e2e/workspace.mjs serves it in place of the library and sets window.__teamsHost first.
(function () {
  const host = window.__teamsHost;
  window.microsoftTeams = {
    app: {
      initialize: async () => undefined,
      getContext: async () => ({
        app: { theme: host.theme, locale: 'en-GB', host: { name: 'Teams', clientType: 'web' } },
        page: { id: 'workspace', subPageId: host.subPageId },
      }),
      registerOnThemeChangeHandler: (handler) => { host.themeHandler = handler; },
      openLink: async (url) => { host.opened.push(url); },
    },
    authentication: {
      getAuthToken: async () => host.token,
    },
  };
})();
