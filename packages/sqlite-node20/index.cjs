"use strict";
// The driver itself: this package only exists to limit, through `engines`, the Node.js versions that build it.
module.exports = require("better-sqlite3");
