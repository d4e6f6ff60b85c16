// A line diff (common prefix and suffix, then a longest common subsequence of the rest).

/** [{op: " " | "+" | "-", line}] turning `before` into `after`. */
export function diffLines(before, after) {
  const a = before.split("\n");
  const b = after.split("\n");
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start += 1;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA -= 1;
    endB -= 1;
  }
  const x = a.slice(start, endA);
  const y = b.slice(start, endB);
  const n = x.length;
  const m = y.length;
  const out = a.slice(0, start).map((line) => ({ op: " ", line }));
  if (n * m > 4_000_000) {
    out.push(...x.map((line) => ({ op: "-", line })), ...y.map((line) => ({ op: "+", line })));
  } else {
    const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
    for (let i = n - 1; i >= 0; i -= 1) {
      for (let j = m - 1; j >= 0; j -= 1) {
        lcs[i][j] = x[i] === y[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && x[i] === y[j]) {
        out.push({ op: " ", line: x[i] });
        i += 1;
        j += 1;
      } else if (j < m && (i === n || lcs[i][j + 1] >= lcs[i + 1][j])) {
        out.push({ op: "+", line: y[j] });
        j += 1;
      } else {
        out.push({ op: "-", line: x[i] });
        i += 1;
      }
    }
  }
  out.push(...a.slice(endA).map((line) => ({ op: " ", line })));
  return out;
}

/** Only the changed lines and `context` lines around them; "..." between hunks. */
export function hunks(diff, context = 2) {
  const keep = new Set();
  diff.forEach((d, i) => {
    if (d.op !== " ") for (let k = i - context; k <= i + context; k += 1) keep.add(k);
  });
  const out = [];
  let last = -1;
  diff.forEach((d, i) => {
    if (!keep.has(i)) return;
    if (last >= 0 && i !== last + 1) out.push({ op: "...", line: "" });
    out.push(d);
    last = i;
  });
  return out;
}
