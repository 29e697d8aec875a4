// Renders this API's OpenAPI document. Everything shown comes from the document and is
// inserted as text (never as HTML), so names in it cannot run as script.
"use strict";

const METHODS = ["get", "post", "put", "patch", "delete"];
const TOKEN_KEY = "netpol-drift-token";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (name === "class") node.className = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function refName(ref) {
  return ref.split("/").pop();
}

function resolve(doc, schema) {
  let current = schema || {};
  let guard = 0;
  while (current.$ref && guard++ < 20) {
    current = doc.components.schemas[refName(current.$ref)] || {};
  }
  return current;
}

function typeText(doc, schema) {
  if (!schema) return "";
  if (schema.$ref) return refName(schema.$ref);
  if (schema.anyOf) return schema.anyOf.map((s) => typeText(doc, s)).join(" | ");
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(" | ");
  if (schema.type === "array") return typeText(doc, schema.items) + "[]";
  return schema.type || "any";
}

function schemaTable(doc, schema, depth, seen) {
  const resolved = resolve(doc, schema);
  if (!resolved.properties || depth > 3) {
    return el("p", {}, el("code", {}, typeText(doc, schema)));
  }
  const required = new Set(resolved.required || []);
  const body = el("tbody");
  for (const [name, prop] of Object.entries(resolved.properties)) {
    const cell = el("td", {}, el("code", {}, typeText(doc, prop)));
    const inner = prop.$ref || (prop.type === "array" && prop.items && prop.items.$ref);
    const target = inner ? (prop.$ref ? prop : prop.items) : null;
    if (target && !seen.has(refName(target.$ref))) {
      const nested = new Set(seen);
      nested.add(refName(target.$ref));
      cell.append(el("details", {}, el("summary", {}, "fields"),
        schemaTable(doc, target, depth + 1, nested)));
    }
    body.append(el("tr", {},
      el("td", {}, el("code", {}, name), required.has(name) ? " *" : ""),
      cell,
      el("td", {}, prop.description || "")));
  }
  return el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "field"),
    el("th", {}, "type"), el("th", {}, "about"))), body);
}

function parametersTable(op) {
  const params = op.parameters || [];
  if (!params.length) return null;
  const body = el("tbody");
  for (const p of params) {
    body.append(el("tr", {},
      el("td", {}, el("code", {}, p.name), p.required ? " *" : ""),
      el("td", {}, p.in),
      el("td", {}, el("code", {}, typeText(null, p.schema))),
      el("td", {}, p.description || "")));
  }
  return el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "parameter"),
    el("th", {}, "in"), el("th", {}, "type"), el("th", {}, "about"))), body);
}

function responsesList(doc, op) {
  const list = el("div");
  for (const [status, response] of Object.entries(op.responses || {})) {
    const content = response.content || {};
    const media = Object.keys(content);
    const line = el("details", {}, el("summary", {}, el("span", { class: "status" }, status),
      " ", response.description || "", media.length ? ` (${media.join(", ")})` : ""));
    for (const type of media) {
      line.append(el("p", {}, el("code", {}, type)), schemaTable(doc, content[type].schema, 0, new Set()));
    }
    list.append(line);
  }
  return list;
}

function tryIt(path, method, op) {
  if (method !== "get") return null;
  const form = el("div", { class: "try" });
  const inputs = {};
  for (const p of op.parameters || []) {
    if (p.in !== "path" && p.in !== "query") continue;
    const input = el("input", { placeholder: p.name, "aria-label": p.name });
    inputs[p.name] = [p, input];
    form.append(el("div", {}, el("label", {}, el("code", {}, p.name), " ", input)));
  }
  const output = el("pre", { hidden: "" });
  const button = el("button", { type: "button" }, "Send");
  button.addEventListener("click", async () => {
    let url = path;
    const query = new URLSearchParams();
    for (const [name, [p, input]] of Object.entries(inputs)) {
      if (!input.value) continue;
      if (p.in === "path") url = url.replace(`{${name}}`, encodeURIComponent(input.value));
      else for (const v of input.value.split(",")) query.append(name, v.trim());
    }
    const headers = {};
    const token = document.getElementById("token").value.trim();
    if (token) headers.Authorization = `Bearer ${token}`;
    const suffix = query.toString() ? `?${query}` : "";
    output.hidden = false;
    output.textContent = `GET ${url}${suffix} …`;
    try {
      const response = await fetch(url + suffix, { headers });
      const text = await response.text();
      let shown = text;
      try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch (_) { /* not JSON */ }
      output.textContent = `${response.status} ${response.statusText}\n\n${shown.slice(0, 200000)}`;
    } catch (err) {
      output.textContent = String(err);
    }
  });
  form.append(button, output);
  return el("details", {}, el("summary", {}, "Try it"), form);
}

function render(doc) {
  document.getElementById("version").textContent = `${doc.info.title} ${doc.info.version} · OpenAPI ${doc.openapi}`;
  const nav = document.getElementById("nav");
  const main = document.getElementById("main");
  main.replaceChildren(el("div", { class: "description" }, doc.info.description || ""));
  const byTag = new Map((doc.tags || []).map((t) => [t.name, []]));
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const tag = (op.tags || ["other"])[0];
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push([path, method, op]);
    }
  }
  const tagText = new Map((doc.tags || []).map((t) => [t.name, t.description || ""]));
  for (const [tag, ops] of byTag) {
    if (!ops.length) continue;
    nav.append(el("h2", {}, tag));
    main.append(el("h2", { id: `tag-${tag}` }, tag), el("p", { class: "description" }, tagText.get(tag) || ""));
    for (const [path, method, op] of ops) {
      const id = `op-${op.operationId}`;
      nav.append(el("a", { href: `#${id}` }, `${method.toUpperCase()} ${path.replace("/api/v1", "")}`));
      const role = op["x-required-role"];
      const section = el("section", { class: "op", id },
        el("span", { class: `method ${method}` }, method.toUpperCase()),
        el("span", { class: "path" }, path),
        el("span", { class: "role" }, role ? `role: ${role}` : "public"),
        el("p", { class: "summary" }, op.summary || ""),
        op.description ? el("p", { class: "description" }, op.description) : null,
        parametersTable(op));
      if (op.requestBody) {
        const body = el("details", { open: "" }, el("summary", {}, "Request body"));
        for (const [type, media] of Object.entries(op.requestBody.content || {})) {
          body.append(el("p", {}, el("code", {}, type)), schemaTable(doc, media.schema, 0, new Set()));
        }
        section.append(body);
      }
      section.append(el("h4", {}, "Responses"), responsesList(doc, op), tryIt(path, method, op));
      main.append(section);
    }
  }
}

function start() {
  const token = document.getElementById("token");
  token.value = sessionStorage.getItem(TOKEN_KEY) || "";
  token.addEventListener("change", () => sessionStorage.setItem(TOKEN_KEY, token.value.trim()));
  fetch("openapi.json")
    .then((response) => response.json())
    .then(render)
    .catch((err) => {
      document.getElementById("main").replaceChildren(el("p", {}, `Could not load openapi.json: ${err}`));
    });
}

document.addEventListener("DOMContentLoaded", start);
