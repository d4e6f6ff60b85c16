// Sign in a new account through the gateway's remote sign-in sessions.
import { api, enc } from "./api.js";
import { act, field, fill, h, toast } from "./dom.js";

function optionInput(option) {
  if (option.type === "boolean") return h("input", { type: "checkbox", checked: option.default === true, "data-option": option.name });
  if (option.choices) {
    return h(
      "select",
      { "data-option": option.name },
      h("option", { value: "" }, option.default === null || option.default === undefined ? "(default)" : `(default: ${option.default})`),
      option.choices.map((choice) => h("option", { value: String(choice) }, String(choice))),
    );
  }
  return h("input", {
    type: option.type === "integer" || option.type === "number" ? "number" : "text",
    "data-option": option.name,
    placeholder: option.default === null || option.default === undefined ? "" : String(option.default),
  });
}

function chosenOptions(form, options) {
  const chosen = {};
  for (const option of options) {
    const input = form.querySelector(`[data-option="${CSS.escape(option.name)}"]`);
    if (!input) continue;
    if (option.type === "boolean") {
      if (input.checked !== (option.default === true)) chosen[option.name] = input.checked;
    } else if (input.value !== "") {
      chosen[option.name] = option.type === "integer" || option.type === "number" ? Number(input.value) : input.value;
    }
  }
  return chosen;
}

export function signInPanel(reload) {
  const providerSelect = h("select", {});
  const optionsBox = h("div", { class: "toolbar" });
  const start = h("button", { type: "submit", class: "primary" }, "Start sign-in");
  const form = h("form", {}, h("div", { class: "toolbar" }, field("Provider", providerSelect), start), optionsBox);
  const sessionBox = h("div", { "aria-live": "polite" });
  const element = h(
    "section",
    { class: "panel", "aria-labelledby": "new-account-title" },
    h("h2", { id: "new-account-title" }, "Sign in a new account"),
    form,
    sessionBox,
  );
  let providers = [];
  let session = null;
  let shown = "";

  function showOptions() {
    const flow = providers.find((p) => p.provider === providerSelect.value);
    fill(optionsBox);
    if (!flow) return;
    if (flow.help) optionsBox.append(h("p", { class: "muted" }, flow.help));
    for (const option of flow.options.filter((o) => o.remote)) {
      const input = optionInput(option);
      optionsBox.append(option.type === "boolean" ? h("label", { class: "field" }, input, ` ${option.flag}`, h("small", {}, option.help)) : field(option.flag, input, option.help));
    }
  }
  providerSelect.addEventListener("change", showOptions);

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const flow = providers.find((p) => p.provider === providerSelect.value);
    if (!flow) return;
    act(start, async () => {
      const answer = await api("POST", `/oauth/${enc(flow.provider)}`, { options: chosenOptions(form, flow.options), wait: 15 });
      session = answer.session;
      render();
    });
  });

  function render() {
    if (!session) return fill(sessionBox);
    const key = JSON.stringify([session.id, session.state, session.awaiting_redirect, session.challenge && session.challenge.url]);
    if (key === shown) return;
    shown = key;
    const parts = [h("p", {}, `Sign-in with ${session.provider}: `, h("span", { class: `badge ${session.state}`, "data-session-state": session.state }, session.state))];
    const challenge = session.challenge;
    if (challenge && session.state !== "succeeded" && session.state !== "failed") {
      if (challenge.hint) parts.push(h("p", { class: "challenge" }, challenge.hint));
      if (challenge.kind === "device_code" && challenge.user_code) {
        parts.push(h("p", {}, "Enter this code: ", h("span", { class: "user-code", "data-user-code": "" }, challenge.user_code)));
      }
      const url = challenge.url_complete || challenge.url;
      if (url && !/^https?:\/\//i.test(url)) parts.push(h("p", {}, "Open: ", h("code", {}, url)));
      else if (url) parts.push(h("p", {}, h("a", { href: url, target: "_blank", rel: "noopener noreferrer", "data-sign-in-url": "" }, "Open the sign-in page"), h("div", { class: "muted" }, h("code", {}, url))));
      if (session.awaiting_redirect) {
        const paste = h("input", { type: "url", size: 60, required: true });
        const send = h("button", { type: "submit", class: "primary" }, "Finish sign-in");
        const pasteForm = h("form", { class: "toolbar" }, field("Address your browser ended on", paste, session.prompt), send);
        pasteForm.addEventListener("submit", (event) => {
          event.preventDefault();
          act(send, async () => {
            const text = paste.value.trim();
            const body = /^https?:/i.test(text) ? { redirect_url: text, wait: 10 } : { code: text, wait: 10 };
            const answer = await api("POST", `/oauth/sessions/${enc(session.id)}/callback`, body);
            session = answer.session;
            render();
            await reload();
          });
        });
        parts.push(pasteForm);
      } else {
        parts.push(h("p", { class: "muted" }, "Waiting for the sign-in to finish..."));
      }
      const cancel = h("button", { type: "button" }, "Cancel sign-in");
      cancel.addEventListener("click", () =>
        act(cancel, async () => {
          session = (await api("DELETE", `/oauth/sessions/${enc(session.id)}`, {})).session;
          render();
        }),
      );
      parts.push(cancel);
    }
    if (session.state === "succeeded") {
      const who = (session.credentials || []).map((c) => c.label).join(", ");
      parts.push(h("p", { class: "located ok" }, `Signed in: ${session.file} - serving ${who}`));
      if (session.warning) parts.push(h("p", { class: "error" }, session.warning));
      toast(`signed in: ${who}`);
    }
    if (session.state === "failed" && session.error) parts.push(h("p", { class: "located", role: "alert" }, session.error.message));
    fill(sessionBox, ...parts);
  }

  async function refresh() {
    if (!providers.length) {
      providers = (await api("GET", "/oauth/providers")).providers;
      fill(providerSelect, ...providers.map((p) => h("option", { value: p.provider }, p.provider)));
      if (!providers.length) {
        fill(form, h("p", { class: "muted" }, "No installed plugin offers a sign-in flow."));
      }
      showOptions();
    }
    if (session && (session.state === "pending" || session.state === "challenge")) {
      const before = session.state;
      session = (await api("GET", `/oauth/sessions/${enc(session.id)}`)).session;
      render();
      if (before !== session.state && session.state === "succeeded") await reload();
    }
  }

  return { element, refresh };
}
