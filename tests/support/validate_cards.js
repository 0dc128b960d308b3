// Checks Adaptive Cards with Microsoft's own library (the `adaptivecards` npm package), as Teams
// hosts them. Reads lines from stdin, each a JSON array of {name, card}; writes one line for each,
// a JSON array of {name, problems} for the cards that have problems ([] when all are valid).
//
//   echo '[{"name": "welcome", "card": {...}}]' | node tests/support/validate_cards.js
//
// Parsing and validation need no DOM, so none is loaded. The dist build is the package's
// CommonJS bundle; its lib/ build is ES modules Node cannot resolve.
"use strict";

const path = require("node:path");
const readline = require("node:readline");

const AdaptiveCards = require(
  require.resolve("adaptivecards/dist/adaptivecards.js", {
    paths: [process.cwd(), path.resolve(__dirname, "..", "..")],
  }),
);

// Teams shows up to six primary actions; the library's default host config allows five.
const TEAMS_HOST_CONFIG = {
  supportsInteractivity: true,
  fontFamily: "'Segoe UI', system-ui, sans-serif",
  actions: { maxActions: 6, actionsOrientation: "horizontal", actionAlignment: "stretch" },
};

function describe(event) {
  const type = event.source && typeof event.source.getJsonTypeName === "function"
    ? event.source.getJsonTypeName()
    : "card";
  const id = event.source && event.source.id ? ` "${event.source.id}"` : "";
  return `${type}${id}: ${event.message}`;
}

function check(json) {
  const card = new AdaptiveCards.AdaptiveCard();
  card.hostConfig = new AdaptiveCards.HostConfig(TEAMS_HOST_CONFIG);
  const context = new AdaptiveCards.SerializationContext();
  card.parse(json, context);
  const problems = [];
  for (let i = 0; i < context.eventCount; i++) {
    problems.push(describe(context.getEventAt(i)));
  }
  for (const event of card.validateProperties().validationEvents) {
    // Hints are advice (e.g. "consider a label"), not something the library refuses.
    if (event.event !== AdaptiveCards.ValidationEvent.Hint) {
      problems.push(describe(event));
    }
  }
  return problems;
}

function checkAll(entries) {
  const found = [];
  for (const { name, card } of entries) {
    let problems;
    try {
      problems = check(card);
    } catch (error) {
      problems = [`the library could not parse it: ${error.message}`];
    }
    if (problems.length) found.push({ name, problems });
  }
  return found;
}

const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on("line", (line) => {
  if (!line.trim()) return;
  let answer;
  try {
    answer = checkAll(JSON.parse(line));
  } catch (error) {
    answer = [{ name: "(input)", problems: [`not a JSON array of {name, card}: ${error.message}`] }];
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
});
