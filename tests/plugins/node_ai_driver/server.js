// An ai driver for oca written in JavaScript: the scope's REST contract with echo behaviour.
"use strict";
const http = require("http");

const MODELS = ["echo"];
const loaded = new Set();
let predictions = 0;

function send(res, status, body) {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(JSON.stringify(body));
}
function fail(res, status, type, message, hint = null) {
  send(res, status, { error: { type, message, hint } });
}
function known(res, name) {
  if (MODELS.includes(name)) return true;
  fail(res, 404, "not_found", `model not found: ${name}`, `models: ${MODELS.join(", ")}`);
  return false;
}

// The parts of a multipart/form-data body: {name: Buffer}.
function multipart(body, contentType) {
  const m = /boundary=(?:"([^"]+)"|([^;]+))/.exec(contentType || "");
  const parts = {};
  if (!m) return parts;
  const sep = Buffer.from("--" + (m[1] || m[2]));
  let start = body.indexOf(sep);
  while (start !== -1) {
    const next = body.indexOf(sep, start + sep.length);
    if (next === -1) break;
    const part = body.subarray(start + sep.length + 2, next - 2);
    const split = part.indexOf("\r\n\r\n");
    const name = /name="([^"]*)"/.exec(part.subarray(0, split).toString());
    if (name) parts[name[1]] = part.subarray(split + 4);
    start = next;
  }
  return parts;
}

const SIGNATURES = { png: [0x89, 0x50, 0x4e, 0x47], jpeg: [0xff, 0xd8, 0xff], gif: [0x47, 0x49, 0x46, 0x38] };
function imageFormat(buf) {
  for (const [fmt, sig] of Object.entries(SIGNATURES)) {
    if (buf && sig.every((b, i) => buf[i] === b)) return fmt;
  }
  return null;
}

const routes = {
  "GET /ping": (req, res) => send(res, 200, { status: "ok", backend: "node", hosts: req.headers["hosts"] || "" }),
  "GET /usage": (req, res) => send(res, 200, { info: "node echo ai driver", predictions }),
  "GET /models": (req, res) => send(res, 200, {
    default: MODELS[0], models: MODELS.map((name) => ({ name, loaded: loaded.has(name) })),
  }),
  "POST /serve": (req, res, body) => {
    const { name } = JSON.parse(body.toString() || "{}");
    if (!known(res, name)) return;
    loaded.add(name);
    send(res, 200, { status: "ok", result: `model ${name} loaded`, model: { name } });
  },
  "POST /unload": (req, res, body) => {
    const { name } = JSON.parse(body.toString() || "{}");
    if (!known(res, name)) return;
    loaded.delete(name);
    send(res, 200, { status: "ok", result: `model ${name} unloaded` });
  },
  "POST /predict": (req, res, body) => {
    const form = multipart(body, req.headers["content-type"]);
    const model = form.model ? form.model.toString() : MODELS[0];
    if (!known(res, model)) return;
    const fmt = imageFormat(form.img);
    if (!fmt) return fail(res, 422, "invalid_input", "the upload is not an image (png, jpeg or gif)");
    const topK = Math.max(1, parseInt(form.top_k ? form.top_k.toString() : "5", 10) || 5);
    const labels = [{ label: `node-${fmt}`, score: 1.0 }, { label: `bytes-${form.img.length}`, score: 0.0 }].slice(0, topK);
    predictions += 1;
    send(res, 200, { results: [{ status: "ok", result: labels[0].label, labels, model }] });
  },
};

http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const route = routes[`${req.method} ${req.url.split("?")[0]}`];
    if (!route) return fail(res, 404, "not_found", `no route ${req.method} ${req.url}`);
    try {
      route(req, res, Buffer.concat(chunks));
    } catch (e) {
      fail(res, 422, "invalid_input", `bad request: ${e.message}`);
    }
  });
}).listen(5055, "0.0.0.0");
