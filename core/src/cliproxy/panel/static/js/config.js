// Config: the YAML in an editor, checked by the gateway as you type (errors at their
// line), the changes as a diff, saved and applied live.
import { api } from "./api.js";
import { diffLines, hunks } from "./diff.js";
import { act, fill, h, toast } from "./dom.js";

export const title = "Config";

export function mount(root) {
  const text = h("textarea", { class: "code", spellcheck: "false", autocapitalize: "off", wrap: "off", id: "config-text" });
  const gutter = h("pre", { class: "gutter", "aria-hidden": "true" });
  const verdict = h("div", { "aria-live": "polite", id: "config-verdict" });
  const diffBox = h("pre", { class: "diff", id: "config-diff", tabindex: "0", "aria-label": "Changes to be saved" });
  const save = h("button", { type: "button", class: "primary" }, "Save and apply");
  const check = h("button", { type: "button" }, "Check");
  const revert = h("button", { type: "button" }, "Revert");
  const fileNote = h("p", { class: "muted" });
  let original = "";
  let errorLine = 0;
  let timer = null;
  let asked = 0;

  function paintGutter() {
    const count = text.value.split("\n").length;
    const lines = [];
    for (let n = 1; n <= count; n += 1) lines.push(n === errorLine ? h("mark", {}, String(n)) : String(n), "\n");
    fill(gutter, ...lines);
    gutter.scrollTop = text.scrollTop;
  }

  function paintDiff() {
    const changes = hunks(diffLines(original, text.value));
    if (!changes.length) {
      fill(diffBox, h("span", { class: "ctx" }, "No changes."));
      save.disabled = true;
      return;
    }
    save.disabled = false;
    fill(diffBox, 
      ...changes.map((d) =>
        h("span", { class: d.op === "+" ? "add" : d.op === "-" ? "del" : "ctx" }, d.op === "..." ? "..." : `${d.op} ${d.line}`),
      ),
    );
  }

  function goTo(line, column) {
    const lines = text.value.split("\n");
    let at = 0;
    for (let n = 1; n < line && n <= lines.length; n += 1) at += lines[n - 1].length + 1;
    text.focus();
    text.setSelectionRange(at + Math.max(0, (column || 1) - 1), at + (lines[line - 1] || "").length);
    const lineHeight = 18;
    text.scrollTop = Math.max(0, (line - 5) * lineHeight);
    gutter.scrollTop = text.scrollTop;
  }

  function showError(error) {
    const where = error.location;
    errorLine = where && where.line ? where.line : 0;
    const parts = [h("strong", {}, where && where.line ? `Line ${where.line}${where.column ? `, column ${where.column}` : ""}: ` : "Error: "), error.problem || error.message];
    if (error.hint) parts.push(h("div", {}, `Hint: ${error.hint}`));
    if (where && where.key) parts.push(h("div", { class: "muted" }, `Key: ${where.key}`));
    const box = h("div", { class: "located", role: "alert", "data-line": errorLine || "" }, parts);
    if (errorLine) {
      const jump = h("button", { type: "button" }, `Go to line ${errorLine}`);
      jump.addEventListener("click", () => goTo(where.line, where.column));
      box.append(jump);
    }
    fill(verdict, box);
    paintGutter();
  }

  async function runCheck() {
    const mine = ++asked;
    try {
      const result = await api("POST", "/config/check", { yaml: text.value });
      if (mine !== asked) return false;
      errorLine = 0;
      fill(verdict, 
        h("div", { class: "located ok" }, `Valid: ${result.credentials} credentials (${result.disabled_credentials} disabled), ${result.models.length} models.`),
      );
      paintGutter();
      return true;
    } catch (error) {
      if (mine !== asked) return false;
      showError(error);
      return false;
    }
  }

  text.addEventListener("input", () => {
    paintGutter();
    paintDiff();
    clearTimeout(timer);
    timer = setTimeout(runCheck, 500);
  });
  text.addEventListener("scroll", () => (gutter.scrollTop = text.scrollTop));
  text.addEventListener("keydown", (event) => {
    if (event.key === "Tab" && !event.shiftKey && !event.ctrlKey && !event.altKey && !event.metaKey) {
      // two spaces, as YAML wants (Escape then Tab leaves the editor)
      if (text.dataset.escaped === "1") return;
      event.preventDefault();
      text.setRangeText("  ", text.selectionStart, text.selectionEnd, "end");
      text.dispatchEvent(new Event("input"));
    }
    text.dataset.escaped = event.key === "Escape" ? "1" : "";
  });
  check.addEventListener("click", () => act(check, runCheck));
  revert.addEventListener("click", () => {
    text.value = original;
    text.dispatchEvent(new Event("input"));
  });
  save.addEventListener("click", () =>
    act(save, async () => {
      clearTimeout(timer);
      let answer;
      try {
        answer = await api("PUT", "/config.yaml", { yaml: text.value });
      } catch (error) {
        if (error.code === "config_refused" && window.confirm(`${error.message}\n\nSave anyway?`)) {
          answer = await api("PUT", "/config.yaml", { yaml: text.value, force: true });
        } else {
          if (error.code === "config_invalid") showError(error);
          throw error;
        }
      }
      const reload = answer.reload || {};
      const changed = [
        reload.models_added && reload.models_added.length ? `models added: ${reload.models_added.join(", ")}` : "",
        reload.models_removed && reload.models_removed.length ? `models removed: ${reload.models_removed.join(", ")}` : "",
        reload.needs_restart && reload.needs_restart.length ? `needs a restart: ${reload.needs_restart.join(", ")}` : "",
      ].filter(Boolean);
      toast(`Saved and applied${changed.length ? `; ${changed.join("; ")}` : ""}.`);
      await load();
      fill(verdict, h("div", { class: "located ok" }, `Saved and applied${changed.length ? `: ${changed.join("; ")}` : "."}`));
    }),
  );

  async function load() {
    const data = await api("GET", "/config.yaml");
    original = data.yaml;
    text.value = data.yaml;
    fileNote.textContent = `${data.file} - secrets are shown as <secret:...> references and kept as they are when saved.`;
    errorLine = 0;
    paintGutter();
    paintDiff();
  }

  root.append(
    h("h1", {}, "Config"),
    fileNote,
    h("label", { for: "config-text" }, "config.yaml"),
    h("div", { class: "editor" }, gutter, text),
    verdict,
    h("div", { class: "toolbar" }, check, save, revert),
    h("h2", {}, "Changes"),
    diffBox,
  );
  load().catch((error) => fill(verdict, h("p", { class: "located", role: "alert" }, error.message)));
  return {};
}
