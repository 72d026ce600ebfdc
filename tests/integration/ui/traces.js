// The known traces the browser test feeds to the daemon, as protocol lines
// (protocol/PROTOCOL.md), and what the UI must then show for them.
'use strict';

const now = Date.now() / 1000;
const t = (offsetSeconds) => Number((now - 600 + offsetSeconds).toFixed(6));
const hex = (n, width) => n.toString(16).padStart(width, '0');

/** 10,000 small traces (run "bulk"), every 97th with an error: older than the demo traces. */
function bulkLines(count) {
  const lines = [];
  for (let i = 0; i < count; i++) {
    const start = t(-500 + i * 0.01);
    const failed = i % 97 === 0;
    lines.push(JSON.stringify({
      type: 'trace', trace_id: `b${hex(i, 8)}`, run_id: 'bulk',
      spans: [
        { span_id: '1', name: 'batch.agent', kind: 'AGENT', started_at: start, ended_at: start + 0.004 },
        {
          span_id: '2', parent_id: '1', name: 'batch.llm', kind: 'LLM', started_at: start + 0.001, ended_at: start + 0.003,
          error: failed ? 'rate limited' : null,
        },
      ],
    }));
  }
  return lines;
}

// A support conversation: every kind, nested, all fine.
const okTrace = {
  id: 'a11ce0000000000000000000000000a1',
  name: 'support-agent',
  lines: [JSON.stringify({
    type: 'trace', trace_id: 'a11ce0000000000000000000000000a1', run_id: 'ui-demo',
    spans: [
      { span_id: '1', name: 'support-agent', kind: 'AGENT', started_at: t(100), ended_at: t(102.4), inputs: { question: 'Where is my order #4411?' }, outputs: { answer: 'It ships tomorrow.' } },
      { span_id: '2', parent_id: '1', name: 'plan', kind: 'LLM', started_at: t(100.05), ended_at: t(100.9), metadata: { model: 'small-1', tokens: 812 } },
      { span_id: '3', parent_id: '1', name: 'orders.lookup', kind: 'TOOL', started_at: t(100.95), ended_at: t(101.3), inputs: { order: 4411 }, outputs: { status: 'packed' } },
      { span_id: '4', parent_id: '1', name: 'answer', kind: 'LLM', started_at: t(101.35), ended_at: t(102.35), metadata: { model: 'large-2' } },
    ],
  })],
};

// The error trace: the refund tool fails; 9 spans in 3 levels. Also the screenshot.
const errorSpans = [
  { span_id: '1', name: 'refund-agent', kind: 'AGENT', started_at: t(200), ended_at: t(203.2), inputs: { ticket: 'T-9921', customer: { id: 'c-77', tier: 'gold' } }, outputs: { resolution: 'escalated' }, metadata: { service: 'support', region: 'eu-west' } },
  { span_id: '2', parent_id: '1', name: 'classify-intent', kind: 'LLM', started_at: t(200.02), ended_at: t(200.61), inputs: { prompt: 'Customer asks for a refund of order 4411' }, outputs: { intent: 'refund', confidence: 0.93 }, metadata: { model: 'small-1', tokens: 356 } },
  { span_id: '3', parent_id: '1', name: 'policy-retrieval', kind: 'CHAIN', started_at: t(200.65), ended_at: t(201.25) },
  { span_id: '4', parent_id: '3', name: 'vector.search', kind: 'TOOL', started_at: t(200.68), ended_at: t(200.98), inputs: { query: 'refund policy gold tier', k: 4 }, outputs: { hits: 4 } },
  { span_id: '5', parent_id: '3', name: 'rerank', kind: 'LLM', started_at: t(201.0), ended_at: t(201.22), metadata: { model: 'rerank-1' } },
  { span_id: '6', parent_id: '1', name: 'orders.get', kind: 'TOOL', started_at: t(201.3), ended_at: t(201.52), inputs: { order_id: 4411 }, outputs: { amount: 129.9, currency: 'EUR', paid: true } },
  {
    span_id: '7', parent_id: '1', name: 'payments.refund', kind: 'TOOL', started_at: t(201.55), ended_at: t(202.58),
    inputs: { order_id: 4411, amount: 129.9, currency: 'EUR' }, outputs: null,
    error: 'PaymentGatewayTimeout: no answer from gateway after 1000 ms (attempt 3 of 3)',
    metadata: { gateway: 'acme-pay', retries: 3 },
  },
  { span_id: '8', parent_id: '1', name: 'escalate', kind: 'TEAM', started_at: t(202.6), ended_at: t(203.1), inputs: { queue: 'billing' } },
  { span_id: '9', parent_id: '8', name: 'notify.human', kind: 'CUSTOM', started_at: t(202.65), ended_at: t(202.8), outputs: { sent: true } },
];
const errorTrace = {
  id: 'e0000000000000000000000000000bad',
  name: 'refund-agent',
  errorSpanId: '0000000000000007',
  spanCount: errorSpans.length,
  depths: [0, 1, 1, 2, 2, 1, 1, 1, 2],  // tree order: children in start order under their parent
  names: ['refund-agent', 'classify-intent', 'policy-retrieval', 'vector.search', 'rerank', 'orders.get',
    'payments.refund', 'escalate', 'notify.human'],
  lines: [JSON.stringify({ type: 'trace', trace_id: 'e0000000000000000000000000000bad', run_id: 'ui-demo', spans: errorSpans })],
};

// A deep tree: 12 nested spans; the innermost one's name and inputs are hostile HTML.
const hostileName = '<img src=x onerror="window.__xss=1">deepest';
const deepSpans = [];
for (let d = 0; d < 12; d++) {
  deepSpans.push({
    span_id: hex(d + 1, 1), parent_id: d === 0 ? null : hex(d, 1), name: d === 11 ? hostileName : `level-${d}`,
    kind: d % 2 ? 'CHAIN' : 'AGENT', started_at: t(300 + d * 0.01), ended_at: t(301 - d * 0.01),
    inputs: d === 11 ? { html: '<script>window.__xss=2</script>' } : {},
  });
}
const deepTrace = {
  id: 'dee9000000000000000000000000dee9',
  name: 'level-0',
  depth: 12,
  hostileName,
  lines: [JSON.stringify({ type: 'trace', trace_id: 'dee9000000000000000000000000dee9', run_id: 'ui-demo', spans: deepSpans })],
};

// 5,000 spans sent one line each and closed with trace_end; a 4-ary tree (depth 6).
const bigTrace = { id: 'b1600000000000000000000000000b16', name: 'bulk-indexer', spanCount: 5000, lines: [] };
for (let i = 0; i < bigTrace.spanCount; i++) {
  const start = t(400 + i * 0.0004);
  bigTrace.lines.push(JSON.stringify({
    type: 'span', trace_id: bigTrace.id, span_id: hex(i + 1, 1), parent_id: i === 0 ? null : hex(Math.floor((i - 1) / 4) + 1, 1),
    run_id: 'ui-demo', name: i === 0 ? 'bulk-indexer' : `index.chunk-${i}`, kind: i === 0 ? 'AGENT' : i % 3 ? 'TOOL' : 'LLM',
    started_at: start, ended_at: i === 0 ? t(402.2) : start + 0.0003,
  }));
}
bigTrace.lines.push(JSON.stringify({ type: 'trace_end', trace_id: bigTrace.id }));

// Still running: the root started and never ended (newest of the demo traces).
const openTrace = {
  id: '0be9000000000000000000000000a0e9',
  name: 'still-running',
  lines: [
    JSON.stringify({ type: 'span_start', trace_id: '0be9000000000000000000000000a0e9', span_id: '1', run_id: 'ui-demo', name: 'still-running', kind: 'AGENT', started_at: t(500) }),
    JSON.stringify({ type: 'span', trace_id: '0be9000000000000000000000000a0e9', span_id: '2', parent_id: '1', run_id: 'ui-demo', name: 'first-step', kind: 'LLM', started_at: t(500.1), ended_at: t(500.4) }),
  ],
};

// Sent only after the page has loaded: must appear at the top of the list without reload.
function liveTrace() {
  const start = Date.now() / 1000;
  return {
    id: '11fe00000000000000000000000011fe',
    name: 'arrived-live',
    lines: [JSON.stringify({
      type: 'trace', trace_id: '11fe00000000000000000000000011fe', run_id: 'ui-demo',
      spans: [{ span_id: '1', name: 'arrived-live', kind: 'AGENT', started_at: start, ended_at: start + 0.25 }],
    })],
  };
}

module.exports = { bulkLines, okTrace, errorTrace, deepTrace, bigTrace, openTrace, liveTrace };
