#!/usr/bin/env node
import '../dist/src/cli/launch.js';
