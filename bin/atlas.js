#!/usr/bin/env node
'use strict';
// The `atlas` CLI: a thin launcher for the built engine (run `npm run build` first).
require('../out/main/cli/index.js')
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
