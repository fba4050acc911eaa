/**
 * `npm run bundle -- DIR`: writes the install tree the image ships to DIR
 * (an empty or missing directory outside the checkout's packages/): one
 * bundled, minified file per CLI entry in packages/cli/bundle/, with the code
 * they share in chunk-*.js files beside them (no node_modules at all), bin/rpi-swarming.js (which picks those bundles), the
 * package manifests (the version is read from them), the stand-in bot's
 * sources, the hook script and the sudo stand-in. Bundles the compiled
 * packages (run `npm run build` first), so the image runs what the tests ran.
 */
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type BuildOptions, build, type Metafile, type Plugin } from "esbuild";
import { renamedErrorClasses } from "./error-names.js";
import { compactMimeDbPlugin } from "./mime-db.js";
import { noIcu } from "./no-icu.js";

const ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));
/** The commands the pod runs (the chart's containers and their probes). */
const POD_ENTRIES = ["state-server", "supervisor", "probe"];

/** Where the bundles sit inside an install tree. */
const BUNDLE_DIR = "packages/cli/bundle";

/**
 * Modules that must resolve at run time, not be bundled: bunyan's optional
 * extras (it requires each in a try/catch and works without; the image never
 * had them, as optional dependencies are omitted there).
 */
const EXTERNAL = ["dtrace-provider", "mv", "safe-json-stringify", "source-map-support"];

/**
 * Our modules find files beside them through `import.meta.url` (the package
 * version, the stand-in bot's sources, the install root). In a bundle that
 * URL would be the bundle's own: each module's is rewritten to where the
 * module sits in the install tree, relative to the bundle, so the same paths
 * come out.
 */
function ownImportMetaUrl(): Plugin {
  return {
    name: "own-import-meta-url",
    setup(b) {
      b.onLoad({ filter: /\.js$/ }, (args) => {
        if (!args.path.startsWith(`${ROOT}${sep}packages${sep}`) || args.path.includes(`${sep}node_modules${sep}`)) {
          return undefined;
        }
        const text = readFileSync(args.path, "utf8");
        if (!text.includes("import.meta.url")) return undefined;
        const rel = relative(join(ROOT, BUNDLE_DIR), args.path).split(sep).join("/");
        return {
          contents: text.replaceAll("import.meta.url", `new URL(${JSON.stringify(rel)}, import.meta.url).href`),
          loader: "js",
        };
      });
    },
  };
}

/**
 * zod's `z` namespace re-exports all of its ~50 locales; nothing here uses
 * any but English (zod's default, which its schemas module loads itself).
 * The namespace keeps English only: about 300 KB less source in every process.
 */
function zodEnglishOnly(): Plugin {
  return {
    name: "zod-english-only",
    setup(b) {
      b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) => {
        if (!/[\\/]zod[\\/]v4[\\/](classic|core)[\\/]/.test(args.importer)) return undefined;
        return { path: join(dirname(args.importer), "../locales/en.js"), namespace: "zod-locales" };
      });
      b.onLoad({ filter: /.*/, namespace: "zod-locales" }, (args) => ({
        contents: `export { default as en } from ${JSON.stringify(args.path)};`,
        resolveDir: dirname(args.path),
        loader: "js",
      }));
    },
  };
}

export interface BundleResult {
  /** Entry name to bundle size in bytes. */
  readonly sizes: Record<string, number>;
  readonly metafile: Metafile;
}

/** Writes the install tree to `out` (see the header). */
export async function bundleInstall(out: string): Promise<BundleResult> {
  const target = resolve(out);
  if (target === ROOT || target.startsWith(`${join(ROOT, "packages")}${sep}`)) {
    throw new Error(`bundle: refusing to write into the checkout (${target}): its bin would then run the bundles`);
  }
  const entriesDir = join(ROOT, "packages/cli/dist/entries");
  if (!existsSync(join(entriesDir, "main.js")))
    throw new Error("bundle: packages/cli/dist/entries is missing: npm run build");
  const entries = readdirSync(entriesDir).filter((f) => f.endsWith(".js"));
  rmSync(join(target, BUNDLE_DIR), { recursive: true, force: true });
  const options = {
    absWorkingDir: ROOT,
    outdir: join(target, BUNDLE_DIR),
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    // Whitespace and syntax minified; identifiers kept, so stack traces and
    // log records show the real function and class names. Not keepNames:
    // its __name() wrapper runs for every closure created, per request too
    // (about 5 KB of garbage per hook request, 3 MB more RSS after 10,000).
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: "none",
    external: EXTERNAL,
    metafile: true,
    // Code shared by the entries, and what they import lazily (got, yauzl, the
    // state server's own package), goes to chunks loaded on first use: less
    // source held by each process and one copy in the image.
    splitting: true,
    logLevel: "warning",
    // CommonJS dependencies call require() for Node's own modules.
    banner: { js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);" },
    plugins: [ownImportMetaUrl(), zodEnglishOnly(), noIcu(), compactMimeDbPlugin()],
  } satisfies BuildOptions;
  // The pod's commands are bundled apart from the others: chunks are made of
  // whole modules, so a module the others need in full (zod's core, for the
  // double's zod classic) would otherwise come whole to the pod's processes too.
  const entryPoints = (pod: boolean) =>
    Object.fromEntries(
      entries
        .map((f) => f.replace(/\.js$/, ""))
        .filter((name) => POD_ENTRIES.includes(name) === pod)
        .map((name) => [name, join(entriesDir, `${name}.js`)]),
    );
  const results = [
    await build({ ...options, entryPoints: entryPoints(true) }),
    await build({ ...options, entryPoints: entryPoints(false) }),
  ];
  const result = {
    metafile: {
      inputs: Object.assign({}, ...results.map((r) => r.metafile.inputs)),
      outputs: Object.assign({}, ...results.map((r) => r.metafile.outputs)),
    } as Metafile,
  };
  const renamed = Object.keys(result.metafile.outputs).flatMap((file) =>
    renamedErrorClasses(readFileSync(resolve(ROOT, file), "utf8")).map(
      (name) => `${name} in ${relative(target, resolve(ROOT, file))}`,
    ),
  );
  if (renamed.length > 0)
    throw new Error(
      `bundle: esbuild renamed error classes whose name logs and replies carry (${renamed.join(", ")}): give the colliding classes distinct names`,
    );
  // The rest of the install tree: what the bundles and the CLI read from disk.
  const copy = (from: string, mode?: number, to = from) => {
    const dest = join(target, to);
    mkdirSync(dirname(dest), { recursive: true });
    cpSync(join(ROOT, from), dest, { recursive: true, filter: (src) => !src.endsWith(`${sep}__pycache__`) });
    if (mode !== undefined) chmodSync(dest, mode);
  };
  copy("package.json");
  for (const pkg of readdirSync(join(ROOT, "packages"))) {
    if (existsSync(join(ROOT, "packages", pkg, "package.json"))) copy(`packages/${pkg}/package.json`);
  }
  copy("packages/cli/bin/rpi-swarming.js", 0o755);
  copy("packages/swarming-double/standin-bot");
  copy("packages/swarming-hooks/bot_config.py");
  // The sudo stand-in first on the bot's PATH (sudo-bin), also under its
  // checkout path images/sudo, where `rpi-swarming demo` looks for it.
  copy("images/sudo/sudo", 0o755, "sudo-bin/sudo");
  rmSync(join(target, "images/sudo"), { recursive: true, force: true });
  mkdirSync(join(target, "images"), { recursive: true });
  symlinkSync("../sudo-bin", join(target, "images/sudo"));
  const sizes: Record<string, number> = {};
  for (const [file, o] of Object.entries(result.metafile.outputs)) {
    sizes[file.split("/").pop()?.replace(/\.js$/, "") ?? file] = o.bytes;
  }
  return { sizes, metafile: result.metafile };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const out = process.argv[2];
  if (!out) {
    process.stderr.write("usage: npm run bundle -- OUT_DIR\n");
    process.exit(2);
  }
  const { sizes } = await bundleInstall(out);
  for (const [name, bytes] of Object.entries(sizes))
    process.stdout.write(`${name}: ${(bytes / 1024).toFixed(0)} KiB\n`);
}
