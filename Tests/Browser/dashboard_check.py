#!/usr/bin/env python3
"""Opens Junction's dashboard in headless Chromium over the DevTools protocol (on a pipe, so no
port is needed) and reports, as JSON on stdout, what a person would see: the nodes and pools the
page drew, whether its screenshot has content, and how long a job submitted while the page is
open takes to appear on it."""
import argparse, base64, json, os, re, shlex, struct, subprocess, tempfile, time, zlib


class Browser:
    def __init__(self, chromium, width, height):
        self.profile = tempfile.mkdtemp(prefix="junction-chromium-")
        commands_read, self.commands = os.pipe()
        self.replies, replies_write = os.pipe()

        def descriptors():
            # The protocol's pipe: Chromium reads commands on fd 3 and writes replies on fd 4.
            # Copied high first, so neither end is overwritten by the other's move.
            read_copy, write_copy = os.dup(commands_read), os.dup(replies_write)
            os.dup2(read_copy, 3, inheritable=True)
            os.dup2(write_copy, 4, inheritable=True)

        self.process = subprocess.Popen(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
             "--remote-debugging-pipe", f"--user-data-dir={self.profile}", f"--window-size={width},{height}", "about:blank"],
            preexec_fn=descriptors, close_fds=False, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        os.close(commands_read)
        os.close(replies_write)
        self.buffer = b""
        self.next_id = 0
        self.session = None

    def call(self, method, params=None, session=True, timeout=60):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self.commands, json.dumps(message).encode() + b"\0")
        deadline = time.time() + timeout
        while time.time() < deadline:
            while b"\0" in self.buffer:
                raw, self.buffer = self.buffer.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") == self.next_id:
                    if "error" in reply:
                        raise RuntimeError(f"{method}: {reply['error']}")
                    return reply.get("result", {})
            chunk = os.read(self.replies, 1 << 20)
            if not chunk:
                raise RuntimeError(f"Chromium closed the protocol pipe: {self.process.stderr.read().decode(errors='replace')[-2000:]}")
            self.buffer += chunk
        raise RuntimeError(f"{method}: no reply within {timeout} s")

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        return result.get("result", {}).get("value")

    def close(self):
        try:
            self.call("Browser.close", session=False, timeout=10)
        except Exception:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def distinct_colours(png):
    """The number of distinct pixel colours in a PNG (8-bit RGB or RGBA, not interlaced)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    position, data, header = 8, b"", None
    while position < len(png):
        length, kind = struct.unpack(">I4s", png[position:position + 8])
        body = png[position + 8:position + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            data += body
        position += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, f"unexpected PNG format {header}"
    step = 3 if colour == 2 else 4
    raw = zlib.decompress(data)
    stride = width * step
    previous = bytearray(stride)
    colours = set()
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - step] if i >= step else 0
            up = previous[i]
            corner = previous[i - step] if i >= step else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                predictor = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + predictor) & 0xFF
        if y % 4 == 0:
            for x in range(0, stride, step * 4):
                colours.add(bytes(line[x:x + 3]))
        previous = line
    return len(colours)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chromium", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--screenshot", required=True)
    parser.add_argument("--nodes", required=True, help="comma-separated node ids the map must show")
    parser.add_argument("--pools", required=True, help="comma-separated pool ids the map must show")
    parser.add_argument("--submit", help="a shell command that submits a job and prints its id")
    arguments = parser.parse_args()
    report = {}
    browser = Browser(arguments.chromium, 1280, 900)
    try:
        target = browser.call("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        browser.session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True}, session=False)["sessionId"]
        browser.call("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False})
        started = time.time()
        browser.call("Page.navigate", {"url": arguments.url})
        nodes, pools = arguments.nodes.split(","), arguments.pools.split(",")
        query = "JSON.stringify({nodes: [...document.querySelectorAll('#map [data-node]')].map(e => e.dataset.node), " \
                "pools: [...document.querySelectorAll('#map [data-pool]')].map(e => e.dataset.pool), " \
                "rows: document.querySelectorAll('#pool-table tbody tr').length, status: document.getElementById('status')?.textContent})"
        seen = {}
        while time.time() - started < 60:
            seen = json.loads(browser.evaluate(query) or "{}") if browser.evaluate("document.readyState") == "complete" else {}
            if set(nodes) <= set(seen.get("nodes", [])) and set(pools) <= set(seen.get("pools", [])) and "live" in (seen.get("status") or ""):
                break
            time.sleep(0.1)
        report["load_s"] = round(time.time() - started, 3)
        report["status"] = seen.get("status")
        report["missing_nodes"] = sorted(set(nodes) - set(seen.get("nodes", [])))
        report["missing_pools"] = sorted(set(pools) - set(seen.get("pools", [])))
        report["pool_rows"] = seen.get("rows")
        shot = base64.b64decode(browser.call("Page.captureScreenshot", {"format": "png"})["data"])
        with open(arguments.screenshot, "wb") as file:
            file.write(shot)
        report["screenshot_colours"] = distinct_colours(shot)
        if arguments.submit:
            submitted = subprocess.run(shlex.split(arguments.submit), capture_output=True, text=True, timeout=60)
            accepted = time.time()
            match = re.search(r"job-\d+", submitted.stdout)
            report["submit_output"] = (submitted.stdout + submitted.stderr).strip()[-500:]
            if match:
                job = match.group(0)
                report["job"] = job
                while time.time() - accepted < 10:
                    if browser.evaluate(f"document.querySelector('#jobs tr[data-job=\"{job}\"]') !== null"):
                        report["job_appeared_after_s"] = round(time.time() - accepted, 3)
                        break
                    time.sleep(0.02)
    finally:
        browser.close()
    print(json.dumps(report))


if __name__ == "__main__":
    main()
