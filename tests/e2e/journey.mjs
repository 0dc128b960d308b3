// A new user's journey through the bot in Microsoft's own Teams emulator (the Agents Playground),
// driven in headless Chromium. tests/e2e/test_playground.py starts the bot and one playground per
// person, runs this script and then checks the register.
//
// Input (environment): STAFF_URL and MANAGER_URL (the two playgrounds' pages), SHOTS (where the
// screenshots go), CUSTOMER (the new customer's name), CHROMIUM (the browser).
// Output: one JSON line per step on stdout; exit status 1 with the failing step named otherwise.
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const { STAFF_URL, MANAGER_URL, SHOTS, CUSTOMER } = process.env;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const WAIT = 30_000;

// The machines have no internet: without these flags Chromium stalls trying to reach Google.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--disable-default-apps',
  '--disable-extensions',
  '--metrics-recording-only',
  '--no-default-browser-check',
];

function report(step, detail = {}) {
  process.stdout.write(JSON.stringify({ step, ...detail }) + '\n');
}

async function shot(locator, name) {
  const file = path.join(SHOTS, `${name}.png`);
  await locator.screenshot({ path: file });
  return file;
}

// The playground's calendar names each day "23, November, 2026".
function calendarLabel(date) {
  return `${date.getDate()}, ${date.toLocaleString('en-GB', { month: 'long' })}, ${date.getFullYear()}`;
}

async function openChat(browser, url) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 2400 } });
  await page.goto(url);
  await page.locator('[aria-label="Personal Chat"]').click();
  return page;
}

function cardWith(page, text) {
  return page.locator('.ac-adaptiveCard').filter({ hasText: text }).last();
}

async function pick(page, combobox, option) {
  await combobox.click();
  await page.getByRole('option', { name: option, exact: true }).click();
}

async function say(page, text) {
  // The compose box is a rich-text editor, not an <input>: type into it as a person would.
  const box = page.locator('[data-lexical-editor="true"][role="textbox"]');
  await box.click();
  await page.keyboard.type(text);
  await page.keyboard.press('Enter');
}

// Teams has a message action ("Report as incident"); the playground has no message menu but sends
// the same composeExtension/fetchTask for an action command typed into its compose box.
async function reportIncident(page) {
  await page.getByRole('button', { name: 'Trigger Message Extension App' }).click();
  await page.getByRole('menuitem', { name: 'Action Command' }).click();
  await page.getByPlaceholder('Input command id or leave blanks').fill('reportAsIncident');
  await page.getByRole('button', { name: 'Create' }).click();
  const dialog = page.getByRole('dialog');

  await dialog.getByText('Step 1 of 5').waitFor({ timeout: WAIT });
  await dialog.getByLabel('Name', { exact: true }).fill(CUSTOMER);
  await dialog.getByLabel('Postcode', { exact: true }).fill('AB1 2CD');
  await shot(dialog, '03-report-customer');
  await dialog.getByRole('button', { name: 'Next' }).click();

  await dialog.getByText('Step 2 of 5').waitFor({ timeout: WAIT });
  const yesterday = new Date(Date.now() - 24 * 3600 * 1000);
  const combos = dialog.getByRole('combobox');
  await combos.nth(0).click();
  await page.getByRole('button', { name: calendarLabel(yesterday), exact: true }).click();
  await pick(page, combos.nth(1), '2:30 PM');
  await pick(page, combos.nth(2), 'Phone');
  await pick(page, combos.nth(3), 'Housing');
  await dialog.getByRole('radio', { name: /^Category two/ }).check();
  await shot(dialog, '04-report-what-happened');
  await dialog.getByRole('button', { name: 'Next' }).click();

  await dialog.getByText('What happened: behaviour and impact').waitFor({ timeout: WAIT });
  await dialog.getByRole('checkbox').first().check();
  await dialog
    .getByLabel('What happened, in your own words')
    .fill('Called eleven times this morning about the same repair and would not let me end the call.');
  await dialog.getByLabel('The impact on the service').fill('Other callers could not get through.');
  await shot(dialog, '05-report-behaviour');
  await dialog.getByRole('button', { name: 'Next' }).click();

  await dialog.getByText('Action taken').waitFor({ timeout: WAIT });
  await dialog.getByRole('checkbox', { name: 'I ended the contact' }).check();
  await dialog.getByRole('button', { name: 'Next' }).click();

  await dialog.getByText('Check and send').waitFor({ timeout: WAIT });
  await dialog.getByText(CUSTOMER).first().waitFor();
  await shot(dialog, '06-report-check-and-send');
  await dialog.getByRole('button', { name: 'Send' }).click();
  // Teams shows the closing `task` message in a small box; the playground shows the box empty, so
  // the confirmation card in the chat is what this journey reads.
  await dialog.getByText('Step 5 of 5').waitFor({ state: 'detached', timeout: WAIT });
  if (await dialog.count()) await dialog.getByRole('button', { name: 'Close' }).click();
}

async function decide(page, reference) {
  const card = cardWith(page, `Incident ${reference}`);
  await card.waitFor({ timeout: WAIT });
  await shot(card, '08-manager-notification');
  // The playground cannot open a dialog from a card button, so the test fills in Amy's decision
  // dialog as Teams would send it (task/fetch, then task/submit) and leaves a file saying so;
  // what Amy sees then is her card, updated in place by the bot.
  report('awaiting the decision', { reference });
  const done = path.join(process.env.SIGNALS || SHOTS, `decided-${reference}`);
  const until = Date.now() + WAIT;
  while (!fs.existsSync(done)) {
    if (Date.now() > until) throw new Error('the decision was not made');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const decided = cardWith(page, 'Download letter');
  await decided.waitFor({ timeout: WAIT });
  await shot(decided, '10-manager-decided');
  return (await decided.innerText()).replace(/\s+/g, ' ');
}

async function run() {
  fs.mkdirSync(SHOTS, { recursive: true });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  let current = 'open the chats';
  let pages = [];
  try {
    // The manager opens Teams first, so the bot has a conversation to notify.
    const manager = await openChat(browser, MANAGER_URL);
    const staff = await openChat(browser, STAFF_URL);
    pages = [staff, manager];

    current = 'welcome card';
    const welcome = cardWith(staff, 'Report an incident');
    await welcome.waitFor({ timeout: WAIT });
    await shot(welcome, '01-welcome');
    const managerWelcome = cardWith(manager, 'Your roles');
    await managerWelcome.waitFor({ timeout: WAIT });
    await shot(managerWelcome, '02-welcome-manager');
    report(current, { staff: await welcome.innerText(), manager: await managerWelcome.innerText() });

    current = 'report an incident';
    await reportIncident(staff);
    const confirmation = cardWith(staff, 'Reported: INC-');
    await confirmation.waitFor({ timeout: WAIT });
    await shot(confirmation, '07-reported');
    const text = await confirmation.innerText();
    const reference = text.match(/INC-\d{4}-\d{5}/)[0];
    report(current, { reference, confirmation: text });

    current = 'decide as the manager';
    const decided = await decide(manager, reference);
    report(current, { card: decided });

    current = 'reporter told';
    const told = cardWith(staff, `${reference}`).filter({ hasText: 'Active management' });
    await told.waitFor({ timeout: WAIT });
    await shot(told, '11-reporter-told');
    report(current, { card: await told.innerText() });

    current = 'check a customer';
    await say(staff, `check ${CUSTOMER} AB1 2CD`);
    const check = cardWith(staff, 'How to handle this customer');
    await check.waitFor({ timeout: WAIT });
    await shot(check, '12-check');
    report(current, { card: await check.innerText() });
  } catch (error) {
    for (const [i, page] of pages.entries()) {
      await page.screenshot({ path: path.join(SHOTS, `failure-${i}.png`), fullPage: true }).catch(() => {});
    }
    report('failed', { at: current, error: String(error) });
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}

await run();
