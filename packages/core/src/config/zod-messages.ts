/**
 * The pod's processes validate with zod/mini (settings, request bodies, token
 * replies), never zod classic: classic's `z` namespace pulls in every schema
 * kind and method, mini's functions are kept by the bundle only when used
 * (docs/benchmarks.md, footprint). Mini leaves zod's message locale unset
 * (every issue would read "Invalid input") where classic sets English on its
 * first schema: core sets it the same way on import, so every process that
 * loads core gets classic's messages. Import zod/mini functions directly
 * (`import * as z from "zod/mini"`): a re-exported namespace object would
 * keep all of zod in the bundle.
 */
import { config } from "zod/mini";
import en from "zod/v4/locales/en.js";

if (!config().localeError) config(en());
