#!/usr/bin/env bash
# The Helm chart (chart/): lint and render with Helm 3 and Helm 4 for every
# chart/ci/*-values.yaml, strict schema validation of every rendered object
# (Kubernetes schemas from kubernetes-validate, monitoring CRD schemas written
# by chart/tests/tools/monitoring-schemas.mjs), helm-unittest suites, values
# that must fail, kube-score of every rendered mode against an allow-list
# (chart/tests/kube-score-allow.yaml), promtool check/test of every alert,
# PromQL of dashboards and rules, dashboard rules (namespace/job filters
# included), the rendered config files loaded by the real programs, the
# restricted containers run on a read-only root with only the chart's
# emptyDirs, and the `helm test` script against a stand-in pod. That the
# generated files (schema, dashboards, chart README) are current is checked by
# ci/suites/10-lint.sh (npm run generate -- --check).
# Writes "<passed> <failed>" to $1. Every check counts once.
out=${1:-/dev/null}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
export PATH="$root/.tools/bin:$root/node_modules/.bin:$PATH"
kube_version=1.34.0
chart=chart
tools=chart/tests/tools
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0

# check NAME COMMAND...: runs the command, counts it, shows its output on failure.
check() {
  local name=$1
  shift
  if "$@" >"$work/log" 2>&1; then
    passed=$((passed + 1))
    echo "ok   $name"
  else
    failed=$((failed + 1))
    echo "FAIL $name"
    sed 's/^/     /' "$work/log" | tail -40
  fi
}
# must_fail NAME PATTERN COMMAND...: the command fails and its output matches PATTERN.
must_fail() {
  local name=$1 pattern=$2
  shift 2
  if "$@" >"$work/log" 2>&1; then
    failed=$((failed + 1))
    echo "FAIL $name (expected a failure)"
  elif grep -Eq -- "$pattern" "$work/log"; then
    passed=$((passed + 1))
    echo "ok   $name: $(grep -Em1 -- "$pattern" "$work/log" | sed 's/^[- ]*//')"
  else
    failed=$((failed + 1))
    echo "FAIL $name (failed without /$pattern/)"
    sed 's/^/     /' "$work/log" | tail -20
  fi
}
finish() {
  echo "$passed $failed" >"$out"
  echo "chart: $passed passed, $failed failed"
  exit $((failed > 0))
}

for tool in helm helm4 helm-unittest kubeconform kube-score promtool node; do
  command -v "$tool" >/dev/null || { echo "FAIL $tool is not installed (run ci/install-tools.sh)"; failed=$((failed + 1)); }
done
((failed == 0)) || finish

# --- schemas -----------------------------------------------------------------
schemas="$work/schemas"
k8s_source=$(python3 -c "import kubernetes_validate, os; print(os.path.join(os.path.dirname(kubernetes_validate.__file__), 'kubernetes-json-schema', 'v${kube_version}-local-strict'))")
check "strict Kubernetes ${kube_version} schemas made standalone from kubernetes-validate" \
  node "$tools/k8s-schemas.mjs" "$k8s_source" "$schemas" \
  configmap-v1.json secret-v1.json service-v1.json serviceaccount-v1.json pod-v1.json daemonset-apps-v1.json \
  networkpolicy-networking-v1.json
check "monitoring.coreos.com/v1 schemas written" node "$tools/monitoring-schemas.mjs" "$schemas"
validate() { kubeconform -strict -summary -kubernetes-version "$kube_version" -schema-location "$schemas/{{.ResourceKind}}{{.KindSuffix}}.json" "$@"; }

# --- lint, render, validate every CI values file with Helm 3 and Helm 4 --------
# Helm 4 keeps some blank lines Helm 3 drops: compare the parsed objects.
same_objects() {
  node -e '
    const fs = require("fs"), { parseAllDocuments } = require("yaml");
    const [a, b] = process.argv.slice(1).map((f) => JSON.stringify(parseAllDocuments(fs.readFileSync(f, "utf8")).map((d) => d.toJS())));
    if (a !== b) { console.log("the rendered objects differ"); process.exit(1); }' "$@"
}
for values in "$chart"/ci/*-values.yaml; do
  name=$(basename "$values" -values.yaml)
  for helm in helm helm4; do
    check "$helm lint --strict ($name)" "$helm" lint --strict "$chart" -f "$values" --kube-version "$kube_version"
    check "$helm template ($name)" sh -c "$helm template lab $chart --namespace devices -f $values --kube-version $kube_version >$work/$name.$helm.yaml"
  done
  check "Helm 3 and Helm 4 render the same objects ($name)" same_objects "$work/$name.helm.yaml" "$work/$name.helm4.yaml"
  check "kubeconform -strict ($name)" validate "$work/$name.helm.yaml"
done
for overlay in values-android values-ios; do
  check "$overlay.yaml renders and validates" sh -c "helm template lab $chart -f $chart/$overlay.yaml --set swarming.server=https://swarming.example.com --kube-version $kube_version >$work/$overlay.yaml && kubeconform -strict -summary -schema-location '$schemas/{{.ResourceKind}}{{.KindSuffix}}.json' $work/$overlay.yaml"
done

# The validation must be able to fail: unknown fields are errors.
sed 's/^  updateStrategy:$/  updateStrategyy:/' "$work/default.helm.yaml" >"$work/bad-daemonset.yaml"
must_fail "kubeconform rejects an unknown DaemonSet field" "updateStrategyy" validate "$work/bad-daemonset.yaml"
sed 's/^  jobLabel: /  jobLable: /' "$work/android-ios.helm.yaml" >"$work/bad-podmonitor.yaml"
must_fail "kubeconform rejects an unknown PodMonitor field" "jobLable" validate "$work/bad-podmonitor.yaml"

sed 's/^  policyTypes:$/  policyTypess:/' "$work/networkpolicy.helm.yaml" >"$work/bad-networkpolicy.yaml"
must_fail "kubeconform rejects an unknown NetworkPolicy field" "policyTypess" validate "$work/bad-networkpolicy.yaml"

# Tasks can fill a Pi's SD card: every emptyDir of every mode has a size limit.
every_empty_dir_limited() {
  node -e '
    const fs = require("fs"), { parseAllDocuments } = require("yaml");
    let bad = 0, seen = 0;
    for (const file of process.argv.slice(1))
      for (const doc of parseAllDocuments(fs.readFileSync(file, "utf8")).map((d) => d.toJS())) {
        const spec = doc?.kind === "Pod" ? doc.spec : doc?.spec?.template?.spec;
        for (const v of spec?.volumes ?? []) {
          if (!v.emptyDir) continue;
          seen++;
          if (!v.emptyDir.sizeLimit) { bad++; console.log(`${file}: ${doc.kind}/${doc.metadata.name} volume ${v.name} has no sizeLimit`); }
        }
      }
    if (!seen) { console.log("no emptyDir found"); process.exit(1); }
    process.exit(bad ? 1 : 0);' "$@"
}
check "every emptyDir of every mode has a sizeLimit" every_empty_dir_limited "$work"/*.helm.yaml

# --- kube-score: every finding of every mode is fixed or allowed with a reason ---
allow="$chart/tests/kube-score-allow.yaml"
# kube_score_ok MODE RENDERED [USED]: kube-score exits 1 on any critical finding; the allow-list decides instead.
kube_score_ok() {
  kube-score score --kubernetes-version "v${kube_version%.*}" --output-format json \
    --enable-optional-test container-seccomp-profile --enable-optional-test container-ports-check \
    "$2" >"$2.kube-score.json"
  node "$tools/kube-score-check.mjs" "$allow" "$1" "$2.kube-score.json" ${3:+"$3"}
}
: >"$work/kube-score-used"
for values in "$chart"/ci/*-values.yaml; do
  name=$(basename "$values" -values.yaml)
  check "kube-score ($name): every finding is fixed or in the allow-list" \
    kube_score_ok "$name" "$work/$name.helm.yaml" "$work/kube-score-used"
done
check "every kube-score allow-list entry is needed by some mode" node -e '
  const fs = require("fs"), { parse } = require("yaml");
  const [allow, usedFile] = process.argv.slice(1);
  const used = new Set(fs.readFileSync(usedFile, "utf8").split("\n").filter(Boolean).map(Number));
  const unused = parse(fs.readFileSync(allow, "utf8")).map((e, i) => ({ ...e, i })).filter((e) => !used.has(e.i));
  for (const e of unused) console.log(`entry ${e.i} (${e.check} ${e.object} ${e.container ?? ""}) matches no finding: remove it`);
  process.exit(unused.length ? 1 : 0);' "$allow" "$work/kube-score-used"
# The gate must be able to fail: a privileged supervisor in usb mode is no allowed finding.
privileged_supervisor_in_usb_mode() {
  helm template lab "$chart" --namespace devices -f "$chart/ci/usb-mode-values.yaml" --kube-version "$kube_version" \
    --set supervisor.securityContext.privileged=true >"$work/ks-bad.yaml" && kube_score_ok usb-mode "$work/ks-bad.yaml"
}
must_fail "kube-score refuses a finding the allow-list does not name" \
  "container-security-context-privileged DaemonSet/lab-rpi-swarming-android \\(supervisor\\)" privileged_supervisor_in_usb_mode

# --- values that must fail with a readable message ----------------------------
for helm in helm helm4; do
  must_fail "$helm: missing server URL" "swarming.server is required: set it to your Swarming server's URL" \
    "$helm" template lab "$chart"
  must_fail "$helm: unknown key" "additional properties 'swarmingServer' not allowed" \
    "$helm" template lab "$chart" --set swarming.server=https://x.example.com --set swarmingServer=https://x.example.com
  must_fail "$helm: wrong type" "at '/stateServer/metricsPort': got string, want integer" \
    "$helm" template lab "$chart" --set swarming.server=https://x.example.com --set-string stateServer.metricsPort=abc
done

# --- the pod template does not change when only the chart version changes ------
cp -r "$chart" "$work/chart-next"
sed -i 's/^version: .*/version: 99.0.0/' "$work/chart-next/Chart.yaml"
pod_templates() { node -e '
  const { parseAllDocuments } = require("yaml");
  const docs = parseAllDocuments(require("fs").readFileSync(0, "utf8")).map((d) => d.toJS());
  console.log(JSON.stringify(docs.filter((d) => d?.kind === "DaemonSet").map((d) => d.spec.template), null, 1));'; }
same_pod_templates() {
  helm template lab "$chart" -f "$chart/ci/android-ios-values.yaml" >"$work/v1.yaml" &&
    helm template lab "$work/chart-next" -f "$chart/ci/android-ios-values.yaml" >"$work/v2.yaml" &&
    grep -q 'helm.sh/chart: rpi-swarming-99.0.0' "$work/v2.yaml" &&
    pod_templates <"$work/v1.yaml" >"$work/pt-a.json" && pod_templates <"$work/v2.yaml" >"$work/pt-b.json" &&
    cmp "$work/pt-a.json" "$work/pt-b.json"
}
check "pod templates unchanged by a chart version bump" same_pod_templates
# A setting change must roll the pods (the config checksum changes); a maintenance
# message must not (the maintenance ConfigMap is watched, not mounted by checksum).
config_checksum() { helm template lab "$chart" --set swarming.server=https://x.example.com "$@" | grep -m1 'checksum/config:'; }
checksum_follows_config() {
  local a b c
  a=$(config_checksum) && b=$(config_checksum --set stateServer.probeIntervalSeconds=10) &&
    c=$(config_checksum --set maintenance.lab-001=cable-swap) &&
    [[ -n "$a" && "$a" != "$b" && "$a" == "$c" ]]
}
check "config checksum changes with a setting, not with a maintenance message" checksum_follows_config
check "appVersion follows the project version" sh -c \
  "test \"\$(sed -n 's/^appVersion: \"\\(.*\\)\"/\\1/p' $chart/Chart.yaml)\" = \"\$(node -p 'require(\"./package.json\").version')\""
check "helm package leaves the test suites out" sh -c \
  "helm package $chart -d $work/pkg >/dev/null && ! tar tzf $work/pkg/*.tgz | grep -q '^rpi-swarming/tests/' && tar tzf $work/pkg/*.tgz | grep -q '^rpi-swarming/dashboards/fleet-overview.json'"

# --- helm-unittest (each test case counts) ------------------------------------
helm-unittest -o "$work/unittest.xml" -t JUnit "$chart" >"$work/unittest.log" 2>&1
unit=$(node -e '
  const xml = require("fs").readFileSync(process.argv[1], "utf8");
  const cases = (xml.match(/<testcase\b/g) ?? []).length;
  const bad = (xml.match(/<testcase\b[^>]*>\s*<(failure|error)\b/g) ?? []).length;
  console.log(`${cases - bad} ${bad}`);' "$work/unittest.xml" 2>/dev/null || echo "0 1")
read -r unit_passed unit_failed <<<"$unit"
if ((unit_passed + unit_failed == 0)); then unit_failed=1; fi
passed=$((passed + unit_passed))
failed=$((failed + unit_failed))
echo "helm-unittest: $unit_passed passed, $unit_failed failed"
((unit_failed == 0)) || sed 's/^/     /' "$work/unittest.log" | grep -v '^\s*$' | tail -60

# --- alert rules: promtool check and test every alert -------------------------
rules="$work/rules"
mkdir -p "$rules"
check "PrometheusRule extracted from the rendered chart" sh -c \
  "helm template lab $chart --set swarming.server=https://x.example.com --set prometheusRule.enabled=true | node $tools/extract-rules.mjs >$rules/rules.yaml"
check "promtool check rules" promtool check rules "$rules/rules.yaml"
cp "$chart"/tests/alerts/*.promtool.yaml "$rules/"
for t in "$rules"/*.promtool.yaml; do
  check "promtool test rules $(basename "$t" .promtool.yaml)" sh -c "cd $rules && promtool test rules $(basename "$t")"
done
check "every alert has a promtool test that fires it and one that does not" node -e '
  const fs = require("fs"), path = require("path"), { parse } = require("yaml");
  const dir = process.argv[1];
  const alerts = parse(fs.readFileSync(path.join(dir, "rules.yaml"), "utf8")).groups.flatMap((g) => g.rules.map((r) => r.alert));
  const fires = new Set(), quiet = new Set();
  for (const f of fs.readdirSync(dir).filter((f) => f.endsWith(".promtool.yaml")))
    for (const t of parse(fs.readFileSync(path.join(dir, f), "utf8")).tests)
      for (const a of t.alert_rule_test ?? []) (a.exp_alerts?.length ? fires : quiet).add(a.alertname);
  const missing = alerts.filter((a) => !fires.has(a) || !quiet.has(a));
  if (missing.length) { console.log("untested (fire and not fire):", missing.join(", ")); process.exit(1); }' "$rules"

# --- PromQL and dashboards ------------------------------------------------------
for f in "$chart"/dashboards/*.json "$rules/rules.yaml"; do
  check "PromQL of $(basename "$f") parses and uses only docs/metrics.md metrics" node "$tools/check-promql.mjs" docs/metrics.md "$f"
done
for f in "$chart"/dashboards/*.json; do
  check "dashboard $(basename "$f"): datasource, namespace and job variables, titles, descriptions, units, \$__rate_interval" node "$tools/check-dashboard.mjs" "$f"
done

# --- the rendered config files are accepted by the real programs ---------------
cli=packages/cli/bin/rpi-swarming.js
for values in "$chart"/ci/*-values.yaml; do
  name=$(basename "$values" -values.yaml)
  node "$tools/extract-configs.mjs" "$work/configs/$name" <"$work/$name.helm.yaml" >"$work/configs-$name.list"
  while read -r process path; do
    check "rpi-swarming $process loads the chart's config ($name, $(basename "$(dirname "$path")"))" \
      env SWARMING_BOT_ID=pi1 node "$cli" "$process" --config "$path" --print-config
  done <"$work/configs-$name.list"
done
printf 'hookPort: 11000\nhookPrt: 1\n' >"$work/bad-config.yaml"
must_fail "rpi-swarming state-server rejects an unknown config key" "unknown setting\\(s\\) hookPrt" \
  env SWARMING_BOT_ID=pi1 node "$cli" state-server --config "$work/bad-config.yaml" --print-config

# --- restricted containers run the real programs as the kubelet would run them -----
# (uid 10001, read-only root, no capabilities, only the rendered emptyDirs writable;
# private namespaces, see tools/restricted-pod.sh): the bot polls, a task writes to
# /tmp, HOME and its work dir, adb starts its server, both stop on SIGTERM.
check "restricted containers work on a read-only root with only the chart's emptyDirs (simulated)" \
  bash "$tools/restricted-pod.sh" "$work/simulated.helm.yaml" "$work/restricted-simulated"
# usb mode: a restricted supervisor (uid 10001) shares /b and /b/shared with a root state server.
check "a restricted supervisor works beside a root state server (usb-mode, simulated device)" sh -c "
  helm template lab $chart --namespace devices -f $chart/ci/usb-mode-values.yaml --kube-version $kube_version \
    --set swarming.server=http://swarming.lab.example.com:8080 --set deviceTypes.android.device=simulated >$work/usb-run.yaml &&
  bash $tools/restricted-pod.sh $work/usb-run.yaml $work/restricted-usb"
# The check must be able to fail: without the HOME emptyDirs adb and the task cannot write.
sed -E '/^ +- name: (supervisor|state-server)-home$/{N;/mountPath: \/var\/lib\/rpi-swarming/d}' \
  "$work/simulated.helm.yaml" >"$work/simulated-no-home.yaml"
must_fail "restricted containers fail without a writable HOME" "Read-only file system|Cannot mkdir '/var/lib/rpi-swarming/.android'" \
  bash "$tools/restricted-pod.sh" "$work/simulated-no-home.yaml" "$work/restricted-no-home"

# --- helm test script against a stand-in pod ------------------------------------
check "helm test script passes a healthy pod" node "$tools/smoke-test-check.mjs" healthy
check "helm test script fails a pod that is not ready" node "$tools/smoke-test-check.mjs" not-ready

finish
