// Models: what clients may request, who serves each, priorities and aliases.
import { api } from "./api.js";
import { field, fill, h, table } from "./dom.js";

export const title = "Models";

export function mount(root) {
  const filter = h("input", { type: "search", placeholder: "part of a model id" });
  const body = h("div", {}, h("p", { class: "muted" }, "Loading..."));
  let data = null;
  function render() {
    if (!data) return;
    const wanted = filter.value.trim().toLowerCase();
    const models = data.models.filter((m) => !wanted || m.id.toLowerCase().includes(wanted));
    fill(body, 
      h(
        "p",
        { class: "muted" },
        `${data.models.length} model ids; routing strategy ${data.strategy}`,
        data.force_model_prefix ? "; prefixed credentials answer only prefixed names" : "",
        data.thinking_suffixes.length ? `; each thinking model also as name(${data.thinking_suffixes.join("|")})` : "",
      ),
      table(
        [
          { label: "Model", cell: (m) => [h("code", {}, m.id), m.rotates ? h("div", { class: "muted" }, "rotates within a priority") : null] },
          {
            label: "Served by (highest priority first)",
            cell: (m) =>
              h(
                "ol",
                {},
                m.credentials.map((c) =>
                  h(
                    "li",
                    {},
                    h("strong", {}, c.label),
                    ` ${c.provider}, priority ${c.priority}${c.weight !== 1 ? `, weight ${c.weight}` : ""}`,
                    c.alias ? [" - alias of ", h("code", {}, c.upstream_model)] : "",
                    c.enabled ? "" : h("span", { class: "badge disabled" }, "disabled"),
                  ),
                ),
              ),
          },
        ],
        models,
        { empty: wanted ? "No model id matches." : "No models: no credential serves any." },
      ),
      data.any_model_prefixes.length
        ? h(
            "section",
            { class: "panel" },
            h("h2", {}, "Prefixes that take any model name"),
            table(
              [
                { label: "Prefix", cell: (p) => h("code", {}, `${p.prefix}/<model>`) },
                { label: "Credential", cell: (p) => `${p.label} (${p.provider})` },
              ],
              data.any_model_prefixes,
            ),
          )
        : null,
    );
  }
  filter.addEventListener("input", render);
  root.append(h("h1", {}, "Models"), h("div", { class: "toolbar" }, field("Filter", filter)), body);
  return {
    interval: 5000,
    async refresh() {
      data = await api("GET", "/models");
      render();
    },
    error(e) {
      fill(body, h("p", { class: "error", role: "alert" }, e.message));
    },
  };
}
