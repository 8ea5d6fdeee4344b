#!/bin/bash
# t91_k8s: docker/k8s-sidecar.yaml parses (python3-yaml) and has what the
# README promises: workload identity wired up (pod label, service account
# annotation, projected token with Entra's audience at the path that
# AZURE_FEDERATED_TOKEN_FILE names), every container non-root with a
# read-only root and no capabilities, probes on /healthz and /readyz, a
# memory limit that covers the benchmark's peak RSS plus max_clients' pools,
# the Service's names in DEFGATE_SERVER_NAMES. No Kubernetes schema is
# available as a Debian package, so these are schema-free checks.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || bail "python3 is not installed"
python3 -c 'import yaml' 2>/dev/null || bail "python3-yaml is not installed (scripts/setup)"

# peak RSS (MiB) the benchmark measured: the largest "NN.N MiB" in the
# "after" column of the RSS rows of bench/RESULTS.md's before/after table
PEAK=$(grep -E '^\| (peak RSS|8 × 64 MiB|2 slow readers)' \
    "$top_srcdir/bench/RESULTS.md" | awk -F'|' '{print $4}' |
    grep -o '[0-9.]* MiB' | sed 's/ MiB//' | sort -n | tail -1)
[ -n "$PEAK" ] || bail "no peak RSS figure in bench/RESULTS.md"
diag "benchmark peak RSS: $PEAK MiB"

PEAK=$PEAK python3 - "$top_srcdir/docker/k8s-sidecar.yaml" <<'PY'
import os, re, sys, yaml

n = failed = 0
def ok(cond, name):
    global n, failed
    n += 1
    failed += not cond
    print(("ok %d - %s" if cond else "not ok %d - %s") % (n, name))
    return cond

try:
    docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
    ok(True, "the YAML parses (%d documents)" % len(docs))
except yaml.YAMLError as e:
    ok(False, "the YAML parses: %s" % e)
    print("1..%d" % n)
    sys.exit(1)

def get(d, *path, default=None):
    for p in path:
        if isinstance(d, dict) and p in d:
            d = d[p]
        elif isinstance(d, list) and isinstance(p, int) and p < len(d):
            d = d[p]
        else:
            return default
    return d

ok(all(get(d, "apiVersion") and get(d, "kind") and get(d, "metadata", "name")
       for d in docs), "every document has apiVersion, kind and metadata.name")
by_kind = {}
for d in docs:
    by_kind.setdefault(d["kind"], []).append(d)
for k in ("ServiceAccount", "Deployment", "Service", "NetworkPolicy"):
    ok(k in by_kind, "has a %s" % k)
sa = get(by_kind, "ServiceAccount", 0, default={})
dep = get(by_kind, "Deployment", 0, default={})
svc = get(by_kind, "Service", 0, default={})
np = get(by_kind, "NetworkPolicy", 0, default={})
pod = get(dep, "spec", "template", default={})
spec = get(pod, "spec", default={})
ns = get(dep, "metadata", "namespace")
ok(all(get(d, "metadata", "namespace") == ns for d in docs) and ns,
   "all objects in one namespace (%s)" % ns)

# workload identity
ok(re.fullmatch(r"[0-9a-f-]{36}", str(get(sa, "metadata", "annotations",
   "azure.workload.identity/client-id", default=""))) is not None,
   "service account annotated azure.workload.identity/client-id")
ok(get(pod, "metadata", "labels", "azure.workload.identity/use") == "true",
   'pod labelled azure.workload.identity/use: "true" (a string)')
ok(get(spec, "serviceAccountName") == get(sa, "metadata", "name"),
   "pod runs as that service account")
ok(get(dep, "spec", "selector", "matchLabels", default={}).items() <=
   get(pod, "metadata", "labels", default={}).items(),
   "Deployment selector matches the pod labels")

ctrs = get(spec, "containers", default=[])
gw = [c for c in ctrs if c.get("name") == "defgate"]
ok(len(gw) == 1, "one container named defgate")
gw = gw[0] if gw else {}
env = {e["name"]: e.get("value") for e in gw.get("env", [])}
tokfile = env.get("AZURE_FEDERATED_TOKEN_FILE") or ""
vols = {v["name"]: v for v in get(spec, "volumes", default=[])}
mounted = None
for m in gw.get("volumeMounts", []):
    v = vols.get(m["name"], {})
    for s in get(v, "projected", "sources", default=[]):
        sat = s.get("serviceAccountToken")
        if sat and tokfile == m["mountPath"].rstrip("/") + "/" + sat["path"]:
            mounted = (sat, m)
ok(mounted is not None,
   "AZURE_FEDERATED_TOKEN_FILE (%s) is a projected service account token mounted into defgate" % tokfile)
ok(mounted and mounted[0].get("audience") == "api://AzureADTokenExchange",
   "the projected token's audience is api://AzureADTokenExchange")
ok(mounted and mounted[1].get("readOnly") is True, "the token is mounted read-only")
ok(env.get("DEFGATE_CREDENTIAL") == "federated", "DEFGATE_CREDENTIAL=federated")
ok("AZURE_CLIENT_SECRET" not in env and "AZURE_CLIENT_SECRET_FILE" not in env,
   "no client secret")

# hardening: every container
psc = get(spec, "securityContext", default={})
ok(psc.get("runAsNonRoot") is True, "pod: runAsNonRoot")
for c in ctrs:
    sc = c.get("securityContext", {})
    uid = sc.get("runAsUser", psc.get("runAsUser"))
    ok(sc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True and
       isinstance(uid, int) and uid != 0, "%s: non-root uid (%s)" % (c["name"], uid))
    ok(sc.get("readOnlyRootFilesystem") is True, "%s: readOnlyRootFilesystem" % c["name"])
    ok(sc.get("allowPrivilegeEscalation") is False, "%s: allowPrivilegeEscalation false" % c["name"])
    ok(get(sc, "capabilities", "drop") == ["ALL"] and not get(sc, "capabilities", "add"),
       "%s: drops ALL capabilities, adds none" % c["name"])
    ok(get(c, "resources", "limits", "memory") and get(c, "resources", "limits", "cpu"),
       "%s: memory and cpu limits" % c["name"])
ok(get(gw, "securityContext", "runAsUser", default=psc.get("runAsUser")) == 10001,
   "defgate runs as the image's user, 10001")
ok(get(spec, "automountServiceAccountToken") is False,
   "no Kubernetes API token mounted")

# probes
def probe_text(p):
    return " ".join(map(str, get(p, "exec", "command", default=[]))) + \
        " " + str(get(p, "httpGet", "path", default=""))
ok("/healthz" in probe_text(gw.get("livenessProbe")), "liveness probe on /healthz")
ok("/readyz" in probe_text(gw.get("readinessProbe")), "readiness probe on /readyz")
port = env.get("DEFGATE_LISTEN", "0.0.0.0:8080").rsplit(":", 1)[1]
ok(all(":%s/" % port in probe_text(gw.get(p)) or
       str(get(gw, p, "httpGet", "port")) in (port, "http")
       for p in ("livenessProbe", "readinessProbe")),
   "probes use the listen port %s" % port)
ok(any(p.get("containerPort") == int(port) for p in gw.get("ports", [])),
   "containerPort is the listen port")

# memory: the benchmark's peak plus 16 KiB pools for max_clients must fit
def mib(q):
    m = re.fullmatch(r"(\d+)(Ki|Mi|Gi)?", str(q))
    if not m:
        return None
    return int(m.group(1)) * {None: 1 / 1048576, "Ki": 1 / 1024, "Mi": 1,
                              "Gi": 1024}[m.group(2)]
peak = float(os.environ["PEAK"])
clients = int(env.get("DEFGATE_MAX_CLIENTS", 4096))
need = peak + clients * 16 / 1024
lim = mib(get(gw, "resources", "limits", "memory"))
req = mib(get(gw, "resources", "requests", "memory"))
ok(lim is not None and lim >= need,
   "memory limit %s MiB >= peak %.1f MiB + %d clients x 16 KiB = %.1f MiB" %
   (lim, peak, clients, need))
ok(req is not None and req <= lim and req >= 12.2 + 4,
   "memory request %s MiB covers the idle process and is <= the limit" % req)

# the Service and the names callers use
names = set((env.get("DEFGATE_SERVER_NAMES") or "").split(","))
sname = get(svc, "metadata", "name")
ok({sname, "%s.%s" % (sname, ns), "%s.%s.svc" % (sname, ns),
    "%s.%s.svc.cluster.local" % (sname, ns)} <= names,
   "DEFGATE_SERVER_NAMES has the Service's names (%s)" % ",".join(sorted(names)))
ok(get(svc, "spec", "selector", default={}).items() <=
   get(pod, "metadata", "labels", default={}).items(), "Service selects the pod")
tp = get(svc, "spec", "ports", 0, "targetPort")
ok(tp in ("http", int(port)) and any(p.get("name") == tp or p.get("containerPort") == tp
   for p in gw.get("ports", [])), "Service targets defgate's port")
ok(get(np, "spec", "podSelector", "matchLabels", default={}).items() <=
   get(pod, "metadata", "labels", default={}).items() and
   get(np, "spec", "ingress", 0, "from"), "NetworkPolicy limits who reaches the pod")
print("1..%d" % n)
sys.exit(1 if failed else 0)
PY
