// The panel: sign-in, the page router and the polling loop.
import { api, onRefused, session } from "./api.js";
import * as overview from "./overview.js";
import * as credentials from "./credentials.js";
import * as models from "./models.js";
import * as keys from "./keys.js";
import * as config from "./config.js";
import * as logs from "./logs.js";

const PAGES = { overview, credentials, models, keys, config, logs };

const view = document.getElementById("view");
const signInSection = document.getElementById("sign-in");
const nav = document.getElementById("nav");
const signOutButton = document.getElementById("sign-out");
let current = null;
let generation = 0;

function pageModule(name) {
  return Object.hasOwn(PAGES, name) ? PAGES[name] : null;
}

function showSignIn(message) {
  generation += 1;
  if (current && current.unmount) current.unmount();
  current = null;
  nav.hidden = true;
  signOutButton.hidden = true;
  view.replaceChildren(signInSection);
  signInSection.hidden = false;
  document.getElementById("sign-in-error").textContent = message || "";
  document.title = "Sign in - cliproxy panel";
  document.getElementById("management-key").focus();
}

async function poll(mine, page) {
  while (mine === generation) {
    try {
      if (!document.hidden) await page.refresh(); // a tab in the background asks nothing
    } catch (error) {
      if (mine === generation && page.error) page.error(error);
    }
    await new Promise((done) => setTimeout(done, page.interval || 2000));
  }
}

async function route() {
  if (!session.key) return showSignIn();
  const name = (window.location.hash.replace(/^#\/?/, "") || "overview").split("?")[0];
  const module = pageModule(name);
  if (!module) {
    window.location.hash = "#/overview";
    return;
  }
  generation += 1;
  const mine = generation;
  if (current && current.unmount) current.unmount();
  nav.hidden = false;
  signOutButton.hidden = false;
  for (const link of nav.querySelectorAll("a")) {
    if (link.getAttribute("href") === `#/${name}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  view.replaceChildren();
  const page = module.mount(view);
  current = page;
  document.title = `${module.title} - cliproxy panel`;
  const heading = view.querySelector("h1");
  if (heading) heading.setAttribute("tabindex", "-1");
  if (document.activeElement === document.body || !view.contains(document.activeElement)) view.focus();
  if (page.refresh) poll(mine, page);
}

document.getElementById("sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = document.getElementById("management-key");
  const error = document.getElementById("sign-in-error");
  session.set(input.value);
  error.textContent = "";
  try {
    await api("GET", "");
    input.value = "";
    signInSection.hidden = true;
    if (!window.location.hash || window.location.hash === "#/") window.location.hash = "#/overview";
    else route();
  } catch (failure) {
    session.clear();
    error.textContent = failure.message;
  }
});

signOutButton.addEventListener("click", () => {
  session.clear();
  showSignIn("Signed out.");
});

onRefused((error) => {
  session.clear();
  showSignIn(error.message);
});

window.addEventListener("hashchange", route);
if (session.key) {
  signInSection.hidden = true;
  route();
} else {
  showSignIn();
}

