#!/usr/bin/env python3
"""Measures Junction's dashboard in headless Chromium against a controller holding many pools and
active jobs (`junction bench dashboard`): how long the page takes to show everything, how long
one render of its tables and map takes, and how long jobs submitted while it is open take to
appear on it. Prints one JSON object.

    python3 Tests/Browser/dashboard_bench.py --junction .build/release/junction --pools 1000 --jobs 10000
"""
import argparse, json, os, re, statistics, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dashboard_check import Browser  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--junction", required=True, help="the junction executable (a release build)")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--pools", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=10000)
    parser.add_argument("--updates", type=int, default=10, help="jobs submitted while the page is open, one at a time")
    arguments = parser.parse_args()

    load = subprocess.Popen([arguments.junction, "bench", "dashboard", "--pools", str(arguments.pools), "--jobs", str(arguments.jobs)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    report = {"pools": arguments.pools, "jobs": arguments.jobs}
    browser = None
    try:
        url = clients = None
        for line in load.stdout:
            if line.startswith("dashboard "):
                url = line.split()[1]
            elif line.startswith("clients "):
                clients = line.split()[1]
            elif line.startswith("ready:"):
                report["load"] = line.strip()
                break
        if not url or not clients:
            raise SystemExit("junction bench dashboard did not start")
        browser = Browser(arguments.chromium, 1280, 900)
        target = browser.call("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        browser.session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True}, session=False)["sessionId"]
        started = time.time()
        browser.call("Page.navigate", {"url": url})
        expected_pools = arguments.pools
        while time.time() - started < 300:
            state = browser.evaluate("JSON.stringify({pools: document.querySelectorAll('#map [data-pool]').length, "
                                     "jobs: document.getElementById('jobs-count')?.textContent || '', status: document.getElementById('status')?.textContent || ''})")
            state = json.loads(state or "{}")
            if state.get("pools", 0) >= expected_pools and str(arguments.jobs) in state.get("jobs", "").replace(",", "") and "live" in state.get("status", ""):
                break
            time.sleep(0.05)
        report["page_ready_s"] = round(time.time() - started, 3)
        report["jobs_line"] = state.get("jobs")
        def timed(expression, times=5):
            return round(statistics.median(browser.evaluate(f"(() => {{ const t = performance.now(); {expression}; return performance.now() - t; }})()") for _ in range(times)), 1)
        # What a job event redraws, and what a pool event redraws.
        report["job_table_render_ms_median"] = timed("renderJobs()")
        report["pools_render_ms_median"] = timed("renderPools(); drawPools()")
        report["map_draw_ms_median"] = timed("drawNetwork()", times=3)
        report["link_update_ms_median"] = timed("updateLinks()")
        appeared = []
        for number in range(arguments.updates):
            submitted = subprocess.run([arguments.junction, "submit", "--controller", clients, "--from", "Seattle", "--cpu", "0.001", "--", "/bin/true"],
                                       capture_output=True, text=True, timeout=60)
            accepted = time.time()
            match = re.search(r"job-\d+", submitted.stdout)
            if not match:
                report.setdefault("submit_errors", []).append((submitted.stdout + submitted.stderr).strip()[-300:])
                continue
            job = match.group(0)
            while time.time() - accepted < 30:
                if browser.evaluate(f"document.querySelector('#jobs tr[data-job=\"{job}\"]') !== null"):
                    appeared.append(time.time() - accepted)
                    break
                time.sleep(0.01)
        report["updates"] = len(appeared)
        if appeared:
            report["update_appears_s_median"] = round(statistics.median(appeared), 3)
            report["update_appears_s_max"] = round(max(appeared), 3)
    finally:
        if browser:
            browser.close()
        load.stdin.close()
        try:
            load.wait(timeout=30)
        except subprocess.TimeoutExpired:
            load.kill()
    print(json.dumps(report))


if __name__ == "__main__":
    main()
