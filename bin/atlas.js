#!/usr/bin/env node
'use strict';
// The `atlas` CLI: a thin launcher for the built engine (`npm run build` first).
require('../out/main/cli/run.js');
