/**
 * The zod the pod's processes validate with: zod/mini (settings, request
 * bodies, token replies). zod classic's `z` namespace pulls in every schema
 * kind and method (about 1.5 MB more RSS per process, docs/benchmarks.md);
 * mini is built from functions a bundle keeps only when used. Mini leaves
 * zod's message locale unset (every issue would read "Invalid input"), where
 * classic sets English on its first schema: set here, once, the same way.
 */
import * as z from "zod/mini";
import en from "zod/v4/locales/en.js";

if (!z.config().localeError) z.config(en());

export { z };
