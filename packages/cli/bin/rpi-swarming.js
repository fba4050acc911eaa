#!/usr/bin/env node
// Starts the entry of the subcommand named first, so that a process loads only
// its own command's modules (a Pi's memory is shared with the bot and its
// tasks). An install made by tools/bundle (the image) has one bundled file per
// entry in ../bundle/; a checkout runs the compiled entries in ../dist/entries/.
import { existsSync } from "node:fs";

const name = /^[a-z][a-z-]*$/.test(process.argv[2] ?? "") ? process.argv[2] : "main";
const pick = (dir) => {
  const url = new URL(`../${dir}/${name}.js`, import.meta.url);
  return existsSync(url) ? url : new URL(`../${dir}/main.js`, import.meta.url);
};
const bundle = pick("bundle");
await import((existsSync(bundle) ? bundle : pick("dist/entries")).href);
