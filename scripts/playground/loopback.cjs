// Preloaded into Microsoft 365 Agents Playground (node --require) by scripts/playground/start.
// The playground has no option for its listening address and listens on every interface;
// it drives an unauthenticated local bot as whoever its config names, so nothing beyond this
// machine may reach it. Every TCP listener in the process is bound to loopback instead.
"use strict";
const net = require("node:net");

const LOOPBACK = "127.0.0.1";
const listen = net.Server.prototype.listen;

net.Server.prototype.listen = function (...args) {
  const [first] = args;
  if (typeof first === "number" || (typeof first === "string" && /^\d+$/.test(first))) {
    // listen(port[, host][, backlog][, callback]): any host given is replaced.
    if (typeof args[1] === "string") args[1] = LOOPBACK;
    else args.splice(1, 0, LOOPBACK);
  } else if (first && typeof first === "object" && first.path === undefined && first.fd === undefined
    && first._handle === undefined && first.handle === undefined) {
    args[0] = { ...first, host: LOOPBACK }; // listen({port, host, ...})
  } else if (first === undefined || typeof first === "function") {
    args.unshift(0, LOOPBACK); // listen([callback]): a random port, on loopback
  }
  return listen.apply(this, args);
};
