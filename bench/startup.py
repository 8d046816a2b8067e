# Start-up side by side, interleaved: each round runs every command once, N rounds (default 40),
# medians. Usage: python3 bench/startup.py [N] (edit cmds for the binaries to compare).
import subprocess, time, statistics, sys, os
crane = os.path.expanduser(subprocess.check_output(["go","env","GOPATH"]).decode().strip()+"/bin/crane")
cmds = {
 "crane version": [crane, "version"],
 "before (fd009fa): ecrsync version": ["/tmp/base/bin/ecrsync", "version"],
 "now: ecrsync version (CLI)": ["/tmp/cli3", "version"],
 "now: bootstrap version": ["/tmp/bootstrap3", "version"],
}
N = int(sys.argv[1]) if len(sys.argv) > 1 else 40
res = {k: [] for k in cmds}
env = dict(os.environ)
for k, c in cmds.items():  # warm-up
    for _ in range(3): subprocess.run(c, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
for i in range(N):
    for k, c in cmds.items():
        t0 = time.perf_counter(); subprocess.run(c, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); res[k].append((time.perf_counter()-t0)*1000)
base = statistics.median(res["crane version"])
for k, v in res.items():
    m = statistics.median(v)
    print(f"{k:30s} median {m:6.2f} ms  p25 {statistics.quantiles(v,n=4)[0]:6.2f}  p75 {statistics.quantiles(v,n=4)[2]:6.2f}  x crane {m/base:4.2f}  (n={len(v)})")
