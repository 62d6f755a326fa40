#!/usr/bin/env node
// CommonJS (bin/package.json): see src/cli/launch.cts.
require('../dist/src/cli/launch.cjs');
