#!/usr/bin/env node
import { endQuietlyWhenStdoutCloses } from "./output.js";
import { runCli } from "./run.js";

endQuietlyWhenStdoutCloses();
process.exitCode = await runCli(process.argv.slice(2));
