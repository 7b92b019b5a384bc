// The dera page: asks POST /v1/ask and shows the answer, its sources and the checker's verdict on each claim.
// Everything that came from the server is put in the page as text (never as HTML).
"use strict";

const $ = (id) => document.getElementById(id);
const form = $("ask-form"), question = $("question"), slider = $("lambda"), auto = $("auto");
const status = $("status"), result = $("result");
let generation = 0;   // only the newest answer is shown when several are in flight

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "class") node.className = value; else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

const fmt = (x, digits = 2) => (typeof x === "number" ? x.toFixed(digits) : "–");

function setStatus(text, isError = false) {
  status.textContent = text;
  status.className = isError ? "error" : "";
}

async function ask(body) {
  const response = await fetch("/v1/ask", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  const json = await response.json();
  if (!response.ok) throw new Error(json.error ? json.error.message : `HTTP ${response.status}`);
  return json;
}

function request(lambda) {
  const body = { question: question.value.trim(), k: Number($("k").value) || 3, max_tokens: 96 };
  if ($("store").value) body.db = $("store").value;
  body.lambda = lambda;
  return body;
}

// The answer with each claim wrapped in a span; spans are Unicode scalar offsets, so index by code point.
function renderAnswer(answer) {
  const target = $("answer");
  target.replaceChildren();
  const scalars = Array.from(answer.answer);
  const claims = (answer.check ? answer.check.claims : []).slice().sort((a, b) => a.span.start - b.span.start);
  let at = 0;
  for (const claim of claims) {
    if (claim.span.start < at) continue;
    target.append(scalars.slice(at, claim.span.start).join(""));
    const title = claim.label === "unsupported"
      ? `not supported by the passages (score ${fmt(claim.score)})`
      : `${claim.label} (score ${fmt(claim.score)})` + (claim.evidence ? `, evidence [${claim.evidence.passageID}]` : "");
    target.append(el("span", { class: `claim ${claim.label}`, title, "data-label": claim.label },
                     scalars.slice(claim.span.start, claim.span.end).join("")));
    at = claim.span.end;
  }
  target.append(scalars.slice(at).join(""));
}

function render(answer) {
  result.hidden = false;
  $("answer-lambda").textContent = answer.lambda === undefined || answer.lambda === null
    ? "model alone" : `lambda ${fmt(answer.lambda)}${answer.candidates ? " (auto)" : ""}`;
  renderAnswer(answer);
  const verdict = $("verdict");
  if (answer.check) {
    const unsupported = answer.check.claims.filter((c) => c.label === "unsupported").length;
    verdict.textContent = unsupported > 0
      ? `${unsupported} claim${unsupported === 1 ? "" : "s"} not supported by the passages: treat the answer with care.`
      : answer.check.claims.length ? "Every checkable claim is supported by the passages." : "The answer makes no claim to check.";
    verdict.className = unsupported > 0 ? "verdict warn" : "verdict";
  } else {
    verdict.textContent = "Not checked.";
    verdict.className = "verdict";
  }
  $("scores").replaceChildren(
    el("span", {}, `correctness ${fmt(answer.correctness)}`),
    el("span", {}, `naturalness ${fmt(answer.naturalness && answer.naturalness.score)}`),
    el("span", {}, `${answer.generatedTokens} tokens, ${fmt(answer.seconds, 1)} s`));
  $("citations").replaceChildren(...answer.citations.map((c) => el("li", { value: c.number },
    el("strong", {}, c.title || c.source), " ", el("span", { class: "source" }, c.source),
    el("span", { class: "passage" }, c.text.length > 240 ? c.text.slice(0, 240) + "…" : c.text))));
  const block = $("candidates-block");
  block.hidden = !answer.candidates;
  if (answer.candidates) {
    $("candidates").tBodies[0].replaceChildren(...answer.candidates.map((c, i) =>
      el("tr", { class: i === answer.chosen ? "chosen" : "" }, el("td", {}, fmt(c.lambda)), el("td", {}, fmt(c.correctness)),
         el("td", {}, fmt(c.naturalness.score)), el("td", {}, c.text))));
  }
}

async function run() {
  if (!question.value.trim()) return;
  const mine = ++generation;
  const lambda = auto.checked ? "auto" : Number(slider.value);
  $("ask").disabled = true;
  setStatus(`Answering at lambda ${auto.checked ? "auto" : fmt(lambda, 1)}…`);
  try {
    const answer = await ask(request(lambda));
    if (mine !== generation) return;
    render(answer);
    document.body.dataset.answeredLambda = String(lambda);
    setStatus("");
  } catch (error) {
    if (mine === generation) setStatus(error.message, true);
  } finally {
    if (mine === generation) $("ask").disabled = false;
  }
}

// Correctness and naturalness against lambda, as `dera tune` draws them.
function chart(points) {
  const width = 520, height = 220, left = 40, right = 12, top = 12, bottom = 32;
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "correctness and naturalness against lambda");
  const lambdas = points.map((p) => p.lambda);
  const lo = Math.min(...lambdas), hi = Math.max(...lambdas) || 1;
  const x = (l) => left + (hi === lo ? 0.5 : (l - lo) / (hi - lo)) * (width - left - right);
  const y = (v) => top + (1 - v) * (height - top - bottom);
  const add = (name, attributes, text) => {
    const node = document.createElementNS(ns, name);
    for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    svg.append(node);
  };
  add("line", { x1: left, y1: y(0), x2: width - right, y2: y(0), stroke: "#999" });
  add("line", { x1: left, y1: y(0), x2: left, y2: y(1), stroke: "#999" });
  for (const v of [0, 0.5, 1]) add("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end", "font-size": 11 }, v);
  for (const l of lambdas) add("text", { x: x(l), y: height - 14, "text-anchor": "middle", "font-size": 11 }, l);
  add("text", { x: (width + left) / 2, y: height - 2, "text-anchor": "middle", "font-size": 11 }, "lambda");
  for (const [key, colour] of [["correctness", "#2f5fb3"], ["naturalness", "#c2410c"]]) {
    const data = points.filter((p) => typeof p[key] === "number");
    add("polyline", { points: data.map((p) => `${x(p.lambda)},${y(p[key])}`).join(" "), fill: "none", stroke: colour, "stroke-width": 2 });
    for (const p of data) add("circle", { cx: x(p.lambda), cy: y(p[key]), r: 3, fill: colour });
    add("text", { x: width - right, y: key === "correctness" ? top + 10 : top + 24, "text-anchor": "end", "font-size": 12, fill: colour }, key);
  }
  return svg;
}

async function sweep() {
  const lambdas = $("sweep-lambdas").value.split(",").map((s) => Number(s.trim())).filter((l) => Number.isFinite(l));
  if (!question.value.trim() || lambdas.length === 0) return;
  $("sweep").disabled = true;
  setStatus(`Answering at ${lambdas.length} lambdas…`);
  try {
    // Sent together, so the server's engine decodes them in one batch.
    const answers = await Promise.all(lambdas.map((l) => ask(request(l))));
    $("sweep-results").replaceChildren(...answers.map((a) => el("div", { class: "card" },
      el("h4", {}, `lambda ${fmt(a.lambda)}`), el("div", {}, a.answer),
      el("div", { class: "source" }, `correct ${fmt(a.correctness)} · natural ${fmt(a.naturalness && a.naturalness.score)}`))));
    $("sweep-chart").replaceChildren(chart(answers.map((a) => ({
      lambda: a.lambda, correctness: a.correctness, naturalness: a.naturalness ? a.naturalness.score : undefined,
    }))));
    setStatus("");
  } catch (error) {
    setStatus(error.message, true);
  } finally {
    $("sweep").disabled = false;
  }
}

let debounce;
slider.addEventListener("input", () => {
  $("lambda-value").textContent = Number(slider.value).toFixed(1);
  clearTimeout(debounce);
  debounce = setTimeout(run, 250);
});
auto.addEventListener("change", () => { slider.disabled = auto.checked; run(); });
form.addEventListener("submit", (event) => { event.preventDefault(); run(); });
$("sweep").addEventListener("click", sweep);

fetch("/health").then((r) => r.json()).then((health) => {
  $("store").replaceChildren(...health.stores.map((name) => el("option", { value: name }, name)));
  if (!health.realigning) {
    slider.disabled = true;
    auto.disabled = true;
    setStatus(`${health.model} has no aligned side here: answers come from the model alone.`);
  }
}).catch(() => setStatus("the server did not answer /health", true));
