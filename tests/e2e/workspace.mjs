// The workspace tab in headless Chromium, as each role opens it in Teams. tests/e2e/test_workspace.py
// starts the bot (chat and tab on one register), signs a token for each person with the loopback
// Entra keys, runs this script, and then checks chat and the register.
//
// Teams is the tab's host: here TeamsJS is answered by a stand-in (tests/e2e/teams_host.js) that
// gives the page the person's token, the theme and the page a deep link names, as Teams would.
// axe-core checks every page for accessibility (no violations allowed, in all three themes).
//
// Input (environment): TAB_URL, LOCAL_TAB_URL (the same bot without an app id), TOKENS (JSON: person -> token), INCIDENT (the incident's id),
// SHOTS (where screenshots go), CHROMIUM. Output: one JSON line per step; exit 1 on failure.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const { TAB_URL, LOCAL_TAB_URL, TOKENS, INCIDENT, SHOTS } = process.env;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const AXE = path.join(HERE, '..', '..', 'node_modules', 'axe-core', 'axe.min.js');
const HOST = fs.readFileSync(path.join(HERE, 'teams_host.js'), 'utf8');
const tokens = JSON.parse(TOKENS);
const WAIT = 20_000;

const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-quic', '--disable-default-apps',
  '--disable-extensions', '--metrics-recording-only', '--no-default-browser-check',
];

function report(step, detail = {}) {
  process.stdout.write(JSON.stringify({ step, ...detail }) + '\n');
}

// Any request off this machine fails the run: the tab must need no external network.
const external = [];

async function open(browser, who, { theme = 'default', subPageId = '', token } = {}) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 }, bypassCSP: true });
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (!['127.0.0.1', 'localhost'].includes(url.hostname)) {
      external.push(url.href);
      return route.abort();
    }
    return route.continue();
  });
  await context.route('**/tab/static/vendor/MicrosoftTeams.min.js', (route) =>
    route.fulfill({ contentType: 'text/javascript', body: HOST }));
  const host = { token: token ?? tokens[who], theme, subPageId };
  await context.addInitScript((given) => { window.__teamsHost = { ...given, opened: [] }; }, host);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(String(error)));
  page.errors = errors;
  await page.goto(TAB_URL);
  return page;
}

async function title(page, text) {
  await page.getByRole('heading', { level: 1, name: text }).waitFor({ timeout: WAIT });
}

async function axe(page, step) {
  if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) {
    await page.addScriptTag({ path: AXE });
  }
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const found = result.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')),
  }));
  if (found.length) throw new Error(`${step}: axe found ${JSON.stringify(found, null, 1)}`);
  return result.violations.length;
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

async function main() {
  fs.mkdirSync(SHOTS, { recursive: true });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    // Each role's home, in Teams' default theme.
    const homes = {
      sam: ['My incidents (1)'],
      amy: ['Awaiting my decision (1)', 'Letters to send or record (0)'],
      kim: ['Undecided incidents (1)', 'Undelivered notifications (0)'],
      ceri: ['Open appeals and complaints (0)'],
    };
    for (const [who, expected] of Object.entries(homes)) {
      const page = await open(browser, who);
      await title(page, 'What is waiting for you');
      for (const text of expected) await page.getByRole('heading', { name: text }).waitFor({ timeout: WAIT });
      await axe(page, `${who}'s home`);
      await shot(page, `workspace-home-${who}`);
      report('home', { who, errors: page.errors });
      await page.context().close();
    }

    // The keeper's home in dark and high-contrast themes, checked again.
    for (const theme of ['dark', 'contrast']) {
      const page = await open(browser, 'kim', { theme });
      await title(page, 'What is waiting for you');
      const shown = await page.evaluate(() => document.documentElement.dataset.theme);
      if (shown !== theme) throw new Error(`theme ${theme} not applied: ${shown}`);
      await axe(page, `theme ${theme}`);
      await shot(page, `workspace-home-kim-${theme}`);
      report('theme', { theme });
      await page.context().close();
    }

    // A search, by keyboard alone: skip link, the search box, Enter.
    {
      const page = await open(browser, 'kim');
      await title(page, 'What is waiting for you');
      await page.keyboard.press('Tab');
      const skip = await page.evaluate(() => document.activeElement && document.activeElement.textContent);
      if (skip !== 'Skip to the page') throw new Error(`first Tab reached ${skip}`);
      await page.getByRole('link', { name: 'Register', exact: true }).focus();
      await page.keyboard.press('Enter');
      await title(page, 'The register');
      await page.getByLabel('Name, reference, postcode or email').focus();
      await page.keyboard.type('Pat');
      await page.keyboard.press('Enter');
      await page.getByRole('table', { name: /1 incident in the whole register/ }).waitFor({ timeout: WAIT });
      await axe(page, 'register search');
      await shot(page, 'workspace-register-search');
      report('search', { url: page.url() });

      // The customer's record, from the result.
      await page.getByRole('link', { name: 'Pat Jones' }).click();
      await title(page, 'Pat Jones: customer record');
      await page.getByRole('list', { name: 'Timeline, newest first' }).waitFor({ timeout: WAIT });
      await axe(page, 'record');
      await shot(page, 'workspace-record');
      report('record');
      await page.context().close();
    }

    // A manager opens the incident from the card's deep link and decides from the page.
    {
      const page = await open(browser, 'amy', { subPageId: `incident/${INCIDENT}` });
      await page.getByRole('heading', { level: 1, name: /^Incident INC-/ }).waitFor({ timeout: WAIT });
      const card = page.locator('.card-host .ac-adaptiveCard');
      await card.waitFor({ timeout: WAIT });
      await axe(page, 'incident page');
      await shot(page, 'workspace-incident');
      await page.getByRole('button', { name: 'No further action' }).click();
      const dialog = page.getByRole('dialog');
      await dialog.getByRole('heading', { name: /Decide on INC-/ }).waitFor({ timeout: WAIT });
      await dialog.getByLabel('Reasons for this decision').fill('Dealt with on the call; nothing more is needed.');
      await axe(page, 'decision dialog');
      await shot(page, 'workspace-decision-dialog');
      await dialog.getByRole('button', { name: 'Record decision' }).click();
      await page.getByRole('status').filter({ hasText: 'is recorded as decided' }).waitFor({ timeout: WAIT });
      await page.getByText('Dealt with on the call; nothing more is needed.').first().waitFor({ timeout: WAIT });
      await axe(page, 'incident decided');
      await shot(page, 'workspace-incident-decided');
      // The page links back to the chat, opened through Teams.
      await page.getByRole('link', { name: 'Open the chat' }).click();
      const opened = await page.evaluate(() => window.__teamsHost.opened);
      if (!opened.some((u) => u.startsWith('https://teams.microsoft.com/l/chat/0/0?users=28:'))) {
        throw new Error(`the chat link opened ${JSON.stringify(opened)}`);
      }
      // The customer's record now has the decision in its timeline.
      await page.getByRole('link', { name: 'Pat Jones' }).first().click();
      await title(page, 'Pat Jones: customer record');
      await page.getByRole('list', { name: 'Timeline, newest first' }).getByText('No further action', { exact: false }).waitFor({ timeout: WAIT });
      await axe(page, 'record after the decision');
      await shot(page, 'workspace-record-decided');
      report('decided', { errors: page.errors });
      await page.context().close();
    }

    // Refusals: staff asking for the register or someone else's incident; no token.
    {
      const page = await open(browser, 'sam');
      await title(page, 'What is waiting for you');
      await page.evaluate(() => { location.hash = '#/register'; });
      await title(page, 'The register');
      await page.getByText('You do not have access to this.').waitFor({ timeout: WAIT });
      await axe(page, 'refused');
      await shot(page, 'workspace-refused');
      await page.context().close();
      const wes = await open(browser, 'wes', { subPageId: `incident/${INCIDENT}` });
      await title(wes, 'Incident');
      await wes.getByText('You do not have access to this.').waitFor({ timeout: WAIT });
      if (await wes.getByText('Pat Jones').count()) throw new Error('a refusal showed the customer');
      await wes.context().close();
      const forged = await open(browser, 'sam', { token: 'not-a-token' });
      await title(forged, 'Signed out');
      await forged.context().close();
      report('refused');
    }
    // Without an app id (make run): the register's people to sign in as, from this machine only.
    {
      const context = await browser.newContext({ viewport: { width: 1100, height: 900 }, bypassCSP: true });
      const page = await context.newPage();
      await page.goto(LOCAL_TAB_URL);
      await title(page, 'Sign in as');
      await axe(page, 'local sign-in');
      await shot(page, 'workspace-local-sign-in');
      await page.getByRole('button', { name: /^Amy Manager/ }).click();
      await title(page, 'What is waiting for you');
      await page.getByText('Signed in as Amy Manager: Manager, Housing.').waitFor({ timeout: WAIT });
      await page.getByRole('button', { name: 'Sign out' }).click();
      await title(page, 'Sign in as');
      report('local');
      await context.close();
    }
    if (external.length) throw new Error(`requests left this machine: ${external.join(', ')}`);
    report('done');
  } finally {
    await browser.close();
  }
}

main().catch((error) => {
  report('failed', { error: String(error && error.stack || error) });
  process.exit(1);
});
