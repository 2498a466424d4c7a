// The human benchmark page: practice on labelled training samples, then the test, answered with 0-9.
// The server keeps every answer; this page only draws, times the answers and sends them.
"use strict";

const $ = (id) => document.getElementById(id);
const PAGE = 12;
// The server accepts answers only with this session's token, which it writes into the page it serves.
const TOKEN = document.querySelector('meta[name="session-token"]').content;
let info = null;
let phase = "practice";
const practice = { sample: null, right: 0, total: 0 };
const test = { running: false, busy: false, question: null, shownAt: 0, pausedMs: 0, pausedAt: null };
const browse = { digit: 0, offset: 0 };

async function api(path, options) {
  const response = await fetch(path, options);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

// Draw a signal as the paper does: its value left to right, its positions from top to bottom.
function draw(canvas, x, t, limit) {
  const ctx = canvas.getContext("2d");
  const { width, height } = canvas;
  const pad = 10;
  const tMin = Math.min(...t);
  const tMax = Math.max(...t);
  ctx.clearRect(0, 0, width, height);
  ctx.strokeStyle = "#e3e3e3";
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(width / 2, pad);
  ctx.lineTo(width / 2, height - pad);
  ctx.stroke();
  ctx.strokeStyle = "#000";
  ctx.lineWidth = 2;
  ctx.beginPath();
  x.forEach((value, i) => {
    const px = width / 2 + (value / limit) * (width / 2 - pad);
    const py = pad + ((t[i] - tMin) / (tMax - tMin)) * (height - 2 * pad);
    if (i === 0) ctx.moveTo(px, py);
    else ctx.lineTo(px, py);
  });
  ctx.stroke();
}

function cell(x, t, limit, caption) {
  const box = document.createElement("div");
  box.className = "cell";
  const canvas = document.createElement("canvas");
  canvas.width = 80;
  canvas.height = 130;
  draw(canvas, x, t, limit);
  const label = document.createElement("div");
  label.textContent = caption;
  box.append(canvas, label);
  return box;
}

function digitButtons(container, onClick) {
  for (let digit = 0; digit < 10; digit++) {
    const button = document.createElement("button");
    button.textContent = String(digit);
    button.dataset.digit = String(digit);
    button.addEventListener("click", () => {
      button.blur(); // so that a later Space or Enter does not press it again
      onClick(digit);
    });
    container.append(button);
  }
}

// ---- practice ----
function showTemplates() {
  if (!info.templates) {
    $("templates-box").hidden = true;
    $("shuffled-note").hidden = false;
    return;
  }
  const limit = 1.15 * Math.max(...info.templates.x.flat().map(Math.abs));
  info.templates.x.forEach((x, digit) => {
    $("templates").append(cell(x, info.templates.t, limit, String(digit)));
  });
}

async function browseDigit(digit, more) {
  browse.offset = more ? browse.offset + PAGE : 0;
  browse.digit = digit;
  if (!more) $("browse").replaceChildren();
  for (const button of $("digit-picker").children) {
    button.classList.toggle("active", Number(button.dataset.digit) === digit);
  }
  const page = await api(`/api/train?digit=${digit}&offset=${browse.offset}&count=${PAGE}`);
  for (const sample of page.samples) {
    $("browse").append(cell(sample.x, info.t, info.x_limit, `${sample.label} (#${sample.index})`));
  }
  $("more").disabled = browse.offset + PAGE >= page.total;
}

async function nextPractice() {
  const index = Math.floor(Math.random() * info.n_train);
  practice.sample = await api(`/api/practice/${index}`);
  draw($("practice-canvas"), practice.sample.x, info.t, info.x_limit);
}

function answerPractice(digit) {
  const sample = practice.sample;
  if (!sample) return;
  practice.sample = null;
  practice.total += 1;
  const right = digit === sample.label;
  if (right) practice.right += 1;
  $("feedback").className = right ? "right" : "wrong";
  $("feedback").textContent = right
    ? `Right: that was a ${sample.label}.`
    : `Not quite: that was a ${sample.label}, you answered ${digit}.`;
  $("practice-score").textContent = `Practice: ${practice.right} of ${practice.total} right.`;
  nextPractice();
}

// ---- test ----
async function showTestIntro() {
  const state = await api("/api/state");
  if (state.done) return showResults();
  $("test-intro").hidden = false;
  $("test-status").textContent = state.answered
    ? `You have answered ${state.answered} of ${info.n_questions} questions.`
    : `The test has ${info.n_questions} questions from the test split.`;
  $("start").textContent = state.answered ? "Continue the test" : "Start the test";
}

async function startTest() {
  $("test-intro").hidden = true;
  $("test-run").hidden = false;
  test.running = true;
  await nextQuestion();
}

async function nextQuestion() {
  const state = await api("/api/state");
  if (state.done) return showResults();
  const question = await api(`/api/question/${state.answered}`);
  const canvas = $("test-canvas");
  draw(canvas, question.x, info.t, info.x_limit);
  canvas.dataset.question = String(question.question);
  test.question = question.question;
  $("progress-text").textContent = `Question ${question.question + 1} of ${info.n_questions}`;
  $("progress").max = info.n_questions;
  $("progress").value = question.question;
  test.shownAt = performance.now();
  test.pausedMs = 0;
  test.busy = false;
}

async function answerTest(digit) {
  if (!test.running || test.busy || test.pausedAt !== null || test.question === null) return;
  test.busy = true;
  const body = {
    question: test.question,
    answer: digit,
    response_time_ms: performance.now() - test.shownAt - test.pausedMs,
  };
  try {
    await api("/api/answer", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Session-Token": TOKEN },
      body: JSON.stringify(body),
    });
  } catch (err) {
    $("progress-text").textContent = `Not saved (${err.message}); reload the page.`;
    return;
  }
  await nextQuestion();
}

function togglePause() {
  if (!test.running) return;
  const paused = test.pausedAt === null;
  if (paused) test.pausedAt = performance.now();
  else {
    test.pausedMs += performance.now() - test.pausedAt;
    test.pausedAt = null;
  }
  $("test-run").classList.toggle("paused", paused);
  $("paused").hidden = !paused;
  $("pause").textContent = paused ? "Continue (P)" : "Pause (P)";
}

async function showResults() {
  test.running = false;
  const result = await api("/api/result");
  $("test-intro").hidden = true;
  $("test-run").hidden = true;
  $("test-results").hidden = false;
  const pct = (v) => (100 * v).toFixed(1);
  const ci = result.accuracy_ci;
  const median = result.response_time_s.median;
  $("score").textContent =
    `${result.n_correct} of ${result.n_questions} right: ${pct(result.final_acc)} % ` +
    `(${Math.round(100 * ci.level)} % CI ${pct(ci.low)}-${pct(ci.high)} %); ` +
    `published human ${info.published_human} %.` +
    (median === null ? "" : ` Median answer time ${median.toFixed(1)} s.`);
  const rows = [["digit", "asked", "right (%)"]].concat(
    result.per_class_acc.map((acc, digit) => [digit, result.per_class_n[digit], acc === null ? "-" : pct(acc)]),
  );
  $("per-class").replaceChildren(
    ...rows.map((row, i) => {
      const tr = document.createElement("tr");
      for (const value of row) {
        const td = document.createElement(i === 0 ? "th" : "td");
        td.textContent = String(value);
        tr.append(td);
      }
      return tr;
    }),
  );
  $("figure").src = `/${result.figure}?t=${Date.now()}`;
  document.body.dataset.finished = "true";
}

// ---- wiring ----
function showPhase(name) {
  if (name !== "test" && test.running && test.pausedAt === null) togglePause(); // the clock stops meanwhile
  phase = name;
  for (const tab of document.querySelectorAll(".tab")) tab.classList.toggle("active", tab.dataset.phase === name);
  $("practice").hidden = name !== "practice";
  $("test").hidden = name !== "test";
  if (name === "test" && !test.running) showTestIntro();
}

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (phase === "test" && event.key.toLowerCase() === "p") return togglePause();
  if (!/^[0-9]$/.test(event.key)) return; // any other key is ignored
  if (phase === "practice") answerPractice(Number(event.key));
  else answerTest(Number(event.key));
});

async function init() {
  info = await api("/api/info");
  $("who").textContent = `— ${info.name}`;
  digitButtons($("digit-picker"), (digit) => browseDigit(digit, false));
  digitButtons($("practice-keys"), answerPractice);
  digitButtons($("test-keys"), answerTest);
  for (const tab of document.querySelectorAll(".tab")) tab.addEventListener("click", () => showPhase(tab.dataset.phase));
  $("more").addEventListener("click", () => browseDigit(browse.digit, true));
  $("start").addEventListener("click", startTest);
  $("pause").addEventListener("click", togglePause);
  showTemplates();
  await browseDigit(0, false);
  await nextPractice();
  showPhase(info.answered > 0 || info.done ? "test" : "practice");
  document.body.dataset.ready = "true";
}

init();
