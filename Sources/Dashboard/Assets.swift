import Hummingbird
import NIOCore

/// The dashboard's stylesheet and script, embedded in the binary (no inline code, so the
/// Content-Security-Policy can forbid it).
enum Assets {
    static func response(_ text: String, type: String) -> Response {
        var headers = Layout.securityHeaders
        headers[.contentType] = type
        headers[.cacheControl] = "public, max-age=3600"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static let css = """
        :root { --ink: #1d2430; --muted: #5b6675; --line: #d8dee6; --bg: #f5f7fa; --accent: #1f6feb; --good: #1a7f37; --bad: #c62828; --busy: #9a6700; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 15px/1.45 system-ui, sans-serif; color: var(--ink); background: var(--bg); }
        a { color: var(--accent); }
        header { display: flex; flex-wrap: wrap; gap: .75rem; align-items: center; padding: .5rem 1rem; background: #18202c; color: #fff; }
        header a.brand { color: #fff; font-weight: 700; text-decoration: none; font-size: 1.1rem; margin-right: auto; }
        header form { display: flex; gap: .4rem; align-items: center; margin: 0; }
        header label { color: #c9d1dc; }
        .frame { display: flex; min-height: calc(100vh - 3rem); }
        nav { width: 14rem; flex: none; background: #fff; border-right: 1px solid var(--line); padding: .5rem 0; }
        nav h2 { font-size: .75rem; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); margin: .8rem 1rem .2rem; }
        nav ul { list-style: none; margin: 0; padding: 0; }
        nav a { display: block; padding: .3rem 1rem; text-decoration: none; color: var(--ink); }
        nav a[aria-current] { background: #e7eefb; border-left: 3px solid var(--accent); font-weight: 600; }
        main { flex: 1; padding: 1rem 1.5rem; min-width: 0; }
        main.login { max-width: 24rem; margin: 4rem auto; background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 1.5rem; }
        main.login form { display: grid; gap: .4rem; }
        h1 { font-size: 1.4rem; margin: .2rem 0 1rem; }
        h2 { font-size: 1.1rem; }
        .scroll { overflow-x: auto; }
        table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
        th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
        th { background: #eef1f5; font-weight: 600; }
        form.panel { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 1rem; margin: 1rem 0; max-width: 40rem; }
        .field { display: grid; gap: .2rem; margin-bottom: .6rem; }
        .field small { color: var(--muted); }
        input, select, textarea, button { font: inherit; padding: .3rem .5rem; border: 1px solid #aab4c0; border-radius: 4px; }
        button { background: var(--accent); color: #fff; border-color: var(--accent); cursor: pointer; }
        button.row-action { background: #fff; color: var(--accent); padding: .1rem .45rem; margin: 0 .1rem .2rem 0; }
        button:focus-visible, a:focus-visible, input:focus-visible, select:focus-visible { outline: 3px solid #f2b300; outline-offset: 1px; }
        .flash { padding: .5rem .8rem; border-radius: 4px; background: #e6f4ea; border: 1px solid #a8d5b5; }
        .flash.error, p.error { background: #fdecea; border: 1px solid #f5b5ae; padding: .5rem .8rem; border-radius: 4px; }
        .status { display: inline-block; padding: 0 .45rem; border-radius: 999px; font-size: .85rem; font-weight: 600; background: #eef1f5; }
        .status.good { color: var(--good); background: #e6f4ea; } .status.bad { color: var(--bad); background: #fdecea; }
        .status.busy { color: var(--busy); background: #fff4d6; } .status.idle { color: var(--muted); }
        .charts { display: flex; flex-wrap: wrap; gap: 1rem; }
        figure.quota { margin: 0; background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .6rem; width: 10rem; text-align: center; }
        figure.quota figcaption { font-size: .85rem; color: var(--muted); }
        .topology { background: #fff; border: 1px solid var(--line); overflow: auto; }
        .topology a:hover rect { stroke: var(--ink); stroke-width: 2; }
        dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; background: #fff; border: 1px solid var(--line); padding: .8rem; }
        dl.facts dt { font-weight: 600; } dl.facts dd { margin: 0; overflow-wrap: anywhere; }
        pre.log { background: #111; color: #ddd; padding: .8rem; overflow: auto; max-height: 30rem; }
        .actions { display: flex; flex-wrap: wrap; gap: .3rem; margin: .6rem 0; }
        .forms { display: flex; flex-wrap: wrap; gap: 0 1rem; align-items: flex-start; } .forms form.panel { margin: .5rem 0; }
        progress { width: 16rem; }
        .empty { color: var(--muted); }
        @media (max-width: 720px) { .frame { flex-direction: column; } nav { width: auto; border-right: 0; border-bottom: 1px solid var(--line); }
          nav ul { display: flex; flex-wrap: wrap; } main { padding: .8rem; } }
        """

    static let javascript = """
        "use strict";
        document.addEventListener("DOMContentLoaded", () => {
          for (const select of document.querySelectorAll("select[data-autosubmit]")) {
            select.addEventListener("change", () => select.form.submit());
          }
          document.addEventListener("click", (event) => {
            const button = event.target.closest("button[data-confirm]");
            if (button && !confirm(button.dataset.confirm)) event.preventDefault();
          });
          // Live status: the rows are refreshed without a reload, every 2 s while one is on its way
          // somewhere (BUILD, REBOOT, …), every 5 s otherwise.
          const poll = document.querySelector("[data-poll]");
          if (poll) {
            const refresh = async () => {
              try {
                const answer = await fetch(poll.dataset.poll, { headers: { "Accept": "application/json" } });
                if (answer.status === 401) { location.reload(); return; }
                if (answer.ok) {
                  const statuses = await answer.json();
                  for (const row of poll.querySelectorAll("tr[data-id]")) {
                    const now = statuses[row.dataset.id];
                    const badge = row.querySelector("[data-cell=status]");
                    if (now === undefined) { badge.textContent = "DELETED"; badge.className = "status idle"; continue; }
                    if (badge.textContent !== now.status) { badge.textContent = now.status; badge.className = "status " + now.kind; }
                    for (const field of ["task", "addresses"]) {
                      const cell = row.querySelector("[data-cell=" + field + "]");
                      if (cell && now[field] !== undefined && cell.textContent !== now[field]) cell.textContent = now[field];
                    }
                  }
                }
              } catch (error) { /* the next round tries again */ }
              setTimeout(refresh, poll.querySelector(".status.busy") ? 2000 : 5000);
            };
            setTimeout(refresh, 2000);
          }
          // Uploads stream the file itself to the dashboard, which passes it to the service.
          for (const form of document.querySelectorAll("form[data-upload]")) {
            form.addEventListener("submit", (event) => {
              event.preventDefault();
              const file = form.querySelector("input[type=file]").files[0];
              if (!file) return;
              const nameInput = form.querySelector("input[name=name]");
              const name = nameInput && nameInput.value ? nameInput.value : file.name;
              const progress = form.querySelector("progress");
              const request = new XMLHttpRequest();
              const query = new URLSearchParams();
              for (const select of form.querySelectorAll("select[name]")) query.set(select.name, select.value);
              const prefix = form.querySelector("input[name=prefix]");
              const path = (prefix ? prefix.value : "") + name;
              request.open("PUT", form.dataset.upload + path.split("/").map(encodeURIComponent).join("/") + (query.size ? "?" + query : ""));
              request.setRequestHeader("X-CSRF-Token", form.querySelector("[name=csrfmiddlewaretoken]").value);
              request.setRequestHeader("Content-Type", file.type || "application/octet-stream");
              request.upload.addEventListener("progress", (e) => { if (progress && e.lengthComputable) progress.value = e.loaded / e.total; });
              request.addEventListener("load", () => {
                const status = form.querySelector("[role=status]");
                if (request.status >= 200 && request.status < 300) { location.reload(); }
                else if (status) { let text = request.statusText; try { text = JSON.parse(request.responseText).error; } catch (e) {} status.textContent = "Upload failed: " + text; }
              });
              request.send(file);
            });
          }
        });
        """
}
