// The transition model's evaluation of a programme, in the browser.
//
// A line-by-line port of flyttkedja.scenario.evaluation.evaluate (Python) and what it calls:
// TransitionModel.line_weights / probabilities / expectations (scenario/model.py) and
// programme_kinds, unused_attributes, sparse_lines, _model_values, expectation_rows
// (scenario/compare.py), and the intervals and net of scenario/evaluation.py (standard_errors,
// effective_chains, net_for_lines). Same inputs (model.json's counts, a programme as the scenario TOML's
// structure), same rows to 1e-9: sums run in the order numpy runs them where the result depends
// on it (shrinkage sums row by row, in stratum order), and everything else is elementwise.
// tests/test_browser_explorer.py compares the two on generated programmes; change them together.
//
// Exposes FlyttkedjaModel(record, constants) with .evaluate(programme) and .validate(programme).
"use strict";

(function (global) {
  const Z975 = 1.959963984540054;
  const TOP_ROOMS = 5;
  const LENGTH_BINS = 21;
  const ROUNDS = 6;
  const GROSS = "moves_gross_per_100_new";
  const ADJUSTED = "moves_adjusted_per_100_new";  // gross × a run's displacement ratio (not the run's net)
  const RATIO = "displacement_ratio";
  const ROUNDS_MEASURE = "below_median_share_by_round";
  const METHOD = "transition_model";
  const NET_METHOD = "gross_x_displacement";
  const MOVE_REASONS = ["new_household", "in_migrant", "immigrant", "not_vacated"];
  const ARRIVAL_ENDS = ["in_migrant", "immigrant"];  // model.ARRIVAL_ENDS: never an allocated line's first filler
  const POOL_REASON = "new_household";  // model.POOL_REASON: the first vacancy's outcome the pool shares out
  const LINE_FIELDS = ["count", "tenure", "rooms", "building_type", "landlord", "municipality", "area_type",
                       "level", "target_group"];

  // ------------------------------------------------------------------ small helpers
  class ScenarioError extends Error {}

  // evaluation.ratio_resolved: a saved displacement ratio whose 95% interval excludes 0
  function ratioResolved(d) {
    return d.lower !== null && d.lower !== undefined && d.upper !== null && d.upper !== undefined
      && (d.lower > 0 || d.upper < 0);
  }

  // model.pool_factor: v / (v + n); 1 without v or programme dwellings
  function poolFactor(v, n) {
    if (v === null || v === undefined || n <= 0 || v + n <= 0) return 1.0;
    return v / (v + n);
  }

  // Python's repr() of a str (the warnings quote programme names as Python does).
  function pyRepr(s) {
    const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
    let out = quote;
    for (const ch of s) {
      const c = ch.codePointAt(0);
      if (ch === "\\") out += "\\\\";
      else if (ch === quote) out += "\\" + quote;
      else if (ch === "\n") out += "\\n";
      else if (ch === "\r") out += "\\r";
      else if (ch === "\t") out += "\\t";
      else if (c < 0x20 || c === 0x7f) out += "\\x" + c.toString(16).padStart(2, "0");
      else out += ch;
    }
    return out + quote;
  }

  // Python's repr() of a scalar in an error message (strings quoted, numbers as written).
  function valueRepr(v) {
    if (typeof v === "string") return pyRepr(v);
    if (v === null || v === undefined) return "None";
    if (v === true) return "True";
    if (v === false) return "False";
    if (Array.isArray(v)) return "[" + v.map(valueRepr).join(", ") + "]";
    if (typeof v === "object") return "{...}";
    return String(v);
  }

  function zeros(n) { return new Float64Array(n); }

  // A dense Float64Array from a saved count array: sparse {shape, index, value} or a nested list.
  function dense(raw, size) {
    const out = zeros(size);
    if (raw === null || raw === undefined) return null;
    if (!Array.isArray(raw)) {
      for (let i = 0; i < raw.index.length; i++) out[raw.index[i]] = raw.value[i];
      return out;
    }
    const flat = raw.flat(Infinity);
    for (let i = 0; i < flat.length; i++) out[i] = flat[i];
    return out;
  }

  function rowSums(a, rows, cols) {
    const out = zeros(rows);
    for (let i = 0; i < rows; i++) {
      let s = 0;
      for (let j = 0; j < cols; j++) s += a[i * cols + j];
      out[i] = s;
    }
    return out;
  }

  function total(a) { let s = 0; for (let i = 0; i < a.length; i++) s += a[i]; return s; }

  // Rows num/den shrunk towards their parents (model._shrunk): p_l = (num_l + k p_{l+1}) / (den_l + k).
  function shrunk(num, den, X, levels, k, fallback) {
    let p = null;
    for (let li = levels.length - 1; li >= 0; li--) {
      const lev = levels[li];
      let nGroups = 0;
      for (let i = 0; i < lev.length; i++) nGroups = Math.max(nGroups, lev[i] + 1);
      const agg = zeros(nGroups * X), n = zeros(nGroups);
      for (let i = 0; i < lev.length; i++) {  // np.add.at and np.bincount: in row order
        const g = lev[i];
        for (let x = 0; x < X; x++) agg[g * X + x] += num[i * X + x];
        n[g] += den[i];
      }
      const next = zeros(nGroups * X);
      if (p === null) {
        for (let g = 0; g < nGroups; g++) {
          for (let x = 0; x < X; x++) {
            next[g * X + x] = n[g] > 0 ? agg[g * X + x] / Math.max(n[g], 1e-300) : (fallback ? fallback[x] : 0);
          }
        }
      } else {
        const parentOf = new Int32Array(nGroups), up = levels[li + 1];
        for (let i = 0; i < lev.length; i++) parentOf[lev[i]] = up[i];
        for (let g = 0; g < nGroups; g++) {
          const q = parentOf[g];
          for (let x = 0; x < X; x++) {
            const parent = p[q * X + x];
            next[g * X + x] = n[g] > 0 ? (agg[g * X + x] + k * parent) / Math.max(n[g] + k, 1e-300) : parent;
          }
        }
      }
      p = next;
    }
    const fine = levels[0], out = zeros(fine.length * X);
    for (let i = 0; i < fine.length; i++) out.set(p.subarray(fine[i] * X, fine[i] * X + X), i * X);
    return out;
  }

  // Strata from which no chain can end get the pooled end distribution (model._close).
  function close(P, S, W) {
    const endsHere = new Array(S).fill(false);
    for (let i = 0; i < S; i++) for (let j = S; j < W; j++) if (P[i * W + j] > 0) endsHere[i] = true;
    let reach = endsHere.slice();
    for (let it = 0; it < S; it++) {
      const more = reach.slice();
      for (let i = 0; i < S; i++) {
        if (more[i]) continue;
        for (let j = 0; j < S; j++) if (reach[j] && P[i * W + j] > 0) { more[i] = true; break; }
      }
      if (more.every((v, i) => v === reach[i])) break;
      reach = more;
    }
    const closed = reach.map((r, i) => !r && !endsHere[i]);
    const open = closed.filter((c) => !c).length;
    if (!closed.some((c) => c) || open === 0) return P;
    const R = W - S, pooled = zeros(R);
    for (let i = 0; i < S; i++) if (!closed[i]) for (let r = 0; r < R; r++) pooled[r] += P[i * W + S + r];
    for (let r = 0; r < R; r++) pooled[r] /= open;
    const a = total(pooled), out = Float64Array.from(P);
    for (let i = 0; i < S; i++) {
      if (!closed[i]) continue;
      for (let j = 0; j < S; j++) out[i * W + j] *= 1 - a;
      for (let r = 0; r < R; r++) out[i * W + S + r] = pooled[r];
    }
    return out;
  }

  // LU factors (partial pivoting) of (I - Q)^T, Q the first S columns of P: x (I - Q) = b is then
  // two triangular solves per right-hand side, instead of the inverse N that Python multiplies by.
  function factor(P, S, W) {
    const A = zeros(S * S), perm = new Int32Array(S);
    for (let i = 0; i < S; i++) {
      perm[i] = i;
      for (let j = 0; j < S; j++) A[j * S + i] = (i === j ? 1 : 0) - P[i * W + j];  // transposed
    }
    for (let c = 0; c < S; c++) {
      let piv = c, best = Math.abs(A[c * S + c]);
      for (let r = c + 1; r < S; r++) if (Math.abs(A[r * S + c]) > best) { best = Math.abs(A[r * S + c]); piv = r; }
      if (best === 0) throw new Error("the model's transition matrix is singular");
      if (piv !== c) {
        for (let j = 0; j < S; j++) { const t = A[c * S + j]; A[c * S + j] = A[piv * S + j]; A[piv * S + j] = t; }
        const t = perm[c]; perm[c] = perm[piv]; perm[piv] = t;
      }
      const d = A[c * S + c];
      for (let r = c + 1; r < S; r++) {
        const f = (A[r * S + c] /= d);
        if (f === 0) continue;
        for (let j = c + 1; j < S; j++) A[r * S + j] -= f * A[c * S + j];
      }
    }
    return { A, perm, S };
  }

  // x with x (I - Q) = b: (I - Q)^T x^T = b^T through the LU factors.
  function solve(lu, b) {
    const { A, perm, S } = lu, x = zeros(S);
    for (let i = 0; i < S; i++) {
      let s = b[perm[i]];
      for (let j = 0; j < i; j++) s -= A[i * S + j] * x[j];
      x[i] = s;
    }
    for (let i = S - 1; i >= 0; i--) {
      let s = x[i];
      for (let j = i + 1; j < S; j++) s -= A[i * S + j] * x[j];
      x[i] = s / A[i * S + i];
    }
    return x;
  }

  // h with (I - Q) h = r (h = N r): (I - Q) = A^T = U^T L^T Pi, so U^T y = r, L^T z = y, h[perm] = z.
  function solveRight(lu, r) {
    const { A, perm, S } = lu, y = zeros(S), z = zeros(S), h = zeros(S);
    for (let i = 0; i < S; i++) {
      let s = r[i];
      for (let j = 0; j < i; j++) s -= A[j * S + i] * y[j];
      y[i] = s / A[i * S + i];
    }
    for (let i = S - 1; i >= 0; i--) {
      let s = y[i];
      for (let j = i + 1; j < S; j++) s -= A[j * S + i] * z[j];
      z[i] = s;
    }
    for (let i = 0; i < S; i++) h[perm[i]] = z[i];
    return h;
  }

  // Python's round-trip of a 97.5% t quantile (compare.t975)
  const T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
                2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042];
  const t975 = (df) => (df >= 1 && df <= 30 ? T975[df - 1] : Z975);

  // x (n) @ M (n, m)
  function vecMat(x, M, n, m, cols) {
    const out = zeros(cols === undefined ? m : cols);
    const use = cols === undefined ? m : cols;
    for (let i = 0; i < n; i++) {
      const xi = x[i];
      if (xi === 0) continue;
      for (let j = 0; j < use; j++) out[j] += xi * M[i * m + j];
    }
    return out;
  }

  // ------------------------------------------------------------------ the model
  class Model {
    constructor(record, constants) {
      this.c = constants;
      this.keys = record.keys;
      this.strata = record.strata;
      this.groups = record.groups;
      this.reasons = record.reasons;
      this.shrinkage = Number(record.shrinkage || 0);
      this.threshold = record.threshold;
      this.suppressedCells = record.suppressed_cells || 0;
      this.meta = record.meta || {};
      const S = this.S = this.strata.length, G = this.G = this.groups.length;
      const W = this.W = S + this.reasons.length;
      this.first = dense(record.first, S * W);
      this.later = dense(record.later, S * W);
      this.fills = dense(record.fills, S);
      this.groupFills = dense(record.group_fills, S * G);
      this.firstGroup = dense(record.first_group, G * S * W);
      this.firstCogroup = dense(record.first_cogroup, G * S * G);
      this.vacatedIncome = dense(record.vacated_income, S * 2);  // null: estimated without areas
      this.flow = null;  // model.json's vacancy_flow (absent: saved before the new-household pool)
      if (record.vacancy_flow) {
        this.flow = new Map();
        record.vacancy_flow.kind.forEach((k, i) => this.flow.set(k.map(String).join("|"), record.vacancy_flow.value[i]));
      }
      if (this.firstCogroup === null) {  // hand-built models (TransitionModel.__post_init__)
        this.firstCogroup = zeros(G * S * G);
        for (let g = 0; g < G; g++) for (let s = 0; s < S; s++) {
          let sum = 0;
          for (let w = 0; w < W; w++) sum += this.firstGroup[(g * S + s) * W + w];
          this.firstCogroup[(g * S + s) * G + g] = sum;
        }
      }
      this.parts = this.strata.map((s) => s.split("|"));
      this.records = total(this.first) + total(this.later);  // model.vacancy_records: fine counts and pools
      for (const name of ["first", "later"]) if (record.pooled && record.pooled[name]) this.records += total(record.pooled[name].value);
      this.expandPools(record.pooled || null);
      this.firstRows = rowSums(this.first, S, W);
      this.laterRows = rowSums(this.later, S, W);
      this.movesFlag = new Int8Array(W).fill(1);
      this.reasons.forEach((r, i) => { this.movesFlag[S + i] = MOVE_REASONS.includes(r) ? 1 : 0; });
      this._probs = null;
    }

    // model._expand_all / _expand: the withheld counts pooled into coarser cells (model.json's "pooled",
    // format /3) spread back over the cells each pool can hold (written as 0, in no earlier pool), in
    // proportion to the row stratum's published fine records times the column's share in the row group's
    // parent's published fine counts (else the column stratum's records); evenly where all of that is 0.
    expandPools(pooled) {
      if (pooled === null) return;
      const { S, W, G } = this, levels = this.levels();
      const weight = zeros(S), fr = rowSums(this.first, S, W), lr = rowSums(this.later, S, W);
      for (let s = 0; s < S; s++) weight[s] = fr[s] + lr[s];
      const expand = (out, p, sel) => {  // out: a (S, W) view, updated in place
        const fine = Float64Array.from(out), covered = new Uint8Array(S * W);
        const profile = levels.map((lev) => {
          let n = 0;
          for (let i = 0; i < S; i++) n = Math.max(n, lev[i] + 1);
          const agg = zeros(n * S);
          for (let i = 0; i < S; i++) for (let j = 0; j < S; j++) agg[lev[i] * S + j] += fine[i * W + j];
          return agg;
        });
        for (let e = 0; e < p.value.length; e++) {
          if (sel !== null && p.group[e] !== sel) continue;
          const a = p.row_level[e], r = p.row[e], b = p.col_level[e], c = p.col[e], v = p.value[e];
          const ri = [], ci = [];
          for (let s = 0; s < S; s++) if (levels[a][s] === r) ri.push(s);
          if (b === 0) ci.push(c); else for (let s = 0; s < S; s++) if (levels[b][s] === c) ci.push(s);
          let cw = b > 0 ? ci.map((j) => weight[j]) : [1];
          if (b > 0) {
            for (let lev = a + 1; lev < levels.length; lev++) {
              const g = levels[lev][ri[0]], shares = ci.map((j) => profile[lev][g * S + j]);
              let sum = 0;
              for (const x of shares) sum += x;
              if (sum > 0) { cw = shares; break; }
            }
          }
          const w = zeros(ri.length * ci.length), free = new Uint8Array(ri.length * ci.length);
          let total = 0;
          for (let x = 0; x < ri.length; x++) for (let y = 0; y < ci.length; y++) {
            const cell = ri[x] * W + ci[y];
            free[x * ci.length + y] = fine[cell] === 0 && !covered[cell] ? 1 : 0;
            w[x * ci.length + y] = weight[ri[x]] * cw[y] * free[x * ci.length + y];
            total += w[x * ci.length + y];
          }
          if (!(total > 0)) {  // nothing weighs: evenly over the pool's cells
            total = 0;
            for (let q = 0; q < w.length; q++) { w[q] = free[q]; total += free[q]; }
          }
          for (let x = 0; x < ri.length; x++) for (let y = 0; y < ci.length; y++) {
            const q = x * ci.length + y, cell = ri[x] * W + ci[y];
            out[cell] += v * (w[q] / total);
            if (free[q]) covered[cell] = 1;
          }
        }
      };
      if (pooled.first) expand(this.first, pooled.first, null);
      if (pooled.later) expand(this.later, pooled.later, null);
      if (pooled.first_group) {
        for (let g = 0; g < G; g++) expand(this.firstGroup.subarray(g * S * W, (g + 1) * S * W), pooled.first_group, g);
      }
    }

    levels() {
      if (!this._levels) {
        const K = this.keys.length;
        this._levels = [];
        for (let lev = 0; lev <= K; lev++) {
          const labels = this.parts.map((p) => p.slice(0, K - lev).join("|"));
          const uniq = Array.from(new Set(labels)).sort();
          const index = new Map(uniq.map((u, i) => [u, i]));
          this._levels.push(Int32Array.from(labels, (l) => index.get(l)));
        }
      }
      return this._levels;
    }

    modelError() {
      const cv = this.meta.cross_validation || {};
      return Number(cv.sigma || 0);
    }

    // ---------------------------------------------------------------- probabilities (model.Probabilities)
    probabilities() {
      if (this._probs) return this._probs;
      const { S, W, G } = this, k = this.shrinkage, levels = this.levels();
      const unfilled = S + this.reasons.indexOf("unfilled");
      const unit = zeros(W); unit[unfilled] = 1;
      const P = close(shrunk(this.later, this.laterRows, W, levels, k, unit), S, W);
      const P0 = total(this.first) > 0 ? shrunk(this.first, this.firstRows, W, levels, k, null) : P;
      const F = shrunk(this.groupFills, this.fills, G, levels, k, zeros(G)).map((v) => Math.min(Math.max(v, 0), 1));
      const lu = factor(P, S, W);
      let B = null;  // share of the dwellings vacated in each stratum in below-median-income areas
      if (this.vacatedIncome !== null && total(this.vacatedIncome) > 0) {
        const below = zeros(S);
        for (let s = 0; s < S; s++) below[s] = this.vacatedIncome[s * 2];
        B = shrunk(below, rowSums(this.vacatedIncome, S, 2), 1, levels, k, null).map((v) => Math.min(Math.max(v, 0), 1));
      }
      const moveP = zeros(S);  // P @ moves_flag
      for (let i = 0; i < S; i++) { let s = 0; for (let j = 0; j < W; j++) s += P[i * W + j] * this.movesFlag[j]; moveP[i] = s; }
      this._probs = { P, P0, F, B, lu, moveP, alloc: new Map(), pooled: new Map() };
      return this._probs;
    }

    // Probabilities.first_rows: (P0, F0) of a line, its new-household pool applied (model.pooled_first_rows)
    firstRowsOf(group, pool) {
      const pr = this.probabilities();
      const [P0, F0] = group === null ? [pr.P0, pr.F] : this.allocated(group);
      if (pool === 1.0 || !this.reasons.includes(POOL_REASON)) return [P0, F0];
      const key = `${group}|${pool}`;
      if (!pr.pooled.has(key)) {
        const { S, W } = this, nh = S + this.reasons.indexOf(POOL_REASON), out = Float64Array.from(P0);
        for (let s = 0; s < S; s++) {
          let sum = 0;
          for (let j = 0; j < W; j++) sum += out[s * W + j];
          const rest = sum - out[s * W + nh];
          if (!(rest > 0)) continue;
          const scale = 1.0 + (out[s * W + nh] * (1.0 - pool)) / rest, nhv = out[s * W + nh] * pool;
          for (let j = 0; j < W; j++) out[s * W + j] *= scale;
          out[s * W + nh] = nhv;
        }
        pr.pooled.set(key, out);
      }
      return [pr.pooled.get(key), F0];
    }

    // compare.line_pools: each line's pool factor (lines of one kind share one pool) and notes
    linePools(prog) {
      if (this.flow === null) {
        return [prog.lines.map(() => 1.0), [
          `programme ${pyRepr(prog.name)}: the model carries no vacancy flow by kind (saved before the ` +
          "new-household pool): its first vacancies go to new households as often as in the register, " +
          "however much the programme adds (no pool)"]];
      }
      const kindOf = (line) => [String(line.tenure), this.attributeLabel("rooms", line.rooms),
                                line.municipality === null || line.municipality === undefined || line.municipality === "" ? "*" : line.municipality];
      const n = new Map();
      for (const line of prog.lines) { const k = kindOf(line).join("|"); n.set(k, (n.get(k) || 0) + line.count); }
      const notes = [];
      const factors = prog.lines.map((line, i) => {
        const kind = kindOf(line), k = kind.join("|");
        const v = this.flow.has(k) ? this.flow.get(k) : null;
        if (v === null) {
          notes.push(`programme ${pyRepr(prog.name)} line ${i + 1}: the model publishes no vacancy flow for ` +
                     `${kind[0]}, ${kind[1]} rooms, ${kind[2] === "*" ? "the region" : kind[2]} (withheld, or never seen): no ` +
                     "new-household pool for this line");
        }
        return poolFactor(v, n.get(k));
      });
      return [factors, notes];
    }

    allocated(g) {
      const pr = this.probabilities();
      if (!pr.alloc.has(g)) {
        const { S, W, G } = this, k = this.shrinkage, levels = this.levels();
        const fg = this.firstGroup.subarray(g * S * W, (g + 1) * S * W);
        const cg = this.firstCogroup.subarray(g * S * G, (g + 1) * S * G);
        const first = this.allocatedFirstCounts(g);
        const P0 = total(first) > 0 ? shrunk(first, rowSums(first, S, W), W, levels, k, null) : pr.P0;
        let F0;
        if (total(fg) > 0) {
          const diag = zeros(S);
          for (let s = 0; s < S; s++) diag[s] = cg[s * G + g];
          F0 = shrunk(cg, diag, G, levels, k, null).map((v) => Math.min(Math.max(v, 0), 1));
        } else {
          F0 = Float64Array.from(pr.F);
        }
        F0 = Float64Array.from(F0);
        for (let s = 0; s < S; s++) F0[s * G + g] = 1;
        pr.alloc.set(g, [P0, F0]);
      }
      return pr.alloc.get(g);
    }

    // model.allocated_first_counts: g's first fillers' records (none: all first vacancies') without arrivals
    allocatedFirstCounts(g) {
      if (!this._allocFirst) this._allocFirst = new Map();  // one array per group (sparseRows caches by array)
      if (!this._allocFirst.has(g)) {
        const { S, W } = this;
        const fg = this.firstGroup.subarray(g * S * W, (g + 1) * S * W);
        const out = Float64Array.from(total(fg) > 0 ? fg : this.first);
        const cols = ARRIVAL_ENDS.filter((r) => this.reasons.includes(r)).map((r) => S + this.reasons.indexOf(r));
        for (let s = 0; s < S; s++) for (const c of cols) out[s * W + c] = 0;
        this._allocFirst.set(g, out);
      }
      return this._allocFirst.get(g);
    }

    // ---------------------------------------------------------------- a line's strata (line_weights)
    attributeLabel(key, value) {
      if (value === null || value === undefined) return null;
      if (key === "rooms") {
        const r = Math.min(Math.max(Math.trunc(value), 1), TOP_ROOMS);
        return r >= TOP_ROOMS ? `${TOP_ROOMS}+` : String(r);
      }
      if (key === "size_band") {
        const r = Math.trunc(value);
        return r >= 4 ? "4+" : String(Math.max(r, 1));
      }
      return String(value);
    }

    // TransitionModel.line_weights: a line that leaves its area open is the mixture over the
    // (municipality, area type) cells the programme spec places it in (model.json's meta.placement,
    // written by the model's estimation from synth's placement rule); otherwise matchingWeights.
    lineWeights(attrs) {
      const cells = this.placementOf(attrs);
      if (cells === null) return this.matchingWeights(attrs);
      const w = zeros(this.S), relaxed = [];
      for (const [muni, areaType, share] of cells) {
        const [wc, rc] = this.matchingWeights({ ...attrs, municipality: muni, area_type: areaType });
        for (let s = 0; s < this.S; s++) w[s] += share * wc[s];
        for (const k of rc) if (!relaxed.includes(k)) relaxed.push(k);
      }
      return [w, relaxed];
    }

    placementOf(attrs) {
      const table = this.meta.placement;
      if (!table || !(this.keys.includes("area_type") || this.keys.includes("municipality"))) return null;
      const muni = attrs.municipality === undefined ? null : attrs.municipality;
      const areaType = attrs.area_type === undefined ? null : attrs.area_type;
      if (muni !== null && areaType !== null) return null;
      const cells = table.cells[`${muni === null ? "*" : muni}|${areaType === null ? "*" : areaType}`];
      return cells === undefined ? null : cells;
    }

    matchingWeights(attrs) {
      const keys = this.keys, S = this.S;
      const want = {};
      for (const k of keys) want[k] = this.attributeLabel(k, attrs[k === "size_band" ? "rooms" : k]);
      const relaxed = [], given = keys.filter((k) => want[k] !== null);
      let match;
      for (;;) {
        match = this.parts.map((p) => keys.every((k, i) => want[k] === null || relaxed.includes(k) || p[i] === want[k]));
        if (match.some((m) => m)) break;
        const left = given.filter((k) => !relaxed.includes(k) && k !== keys[0]);
        if (!left.length) {
          throw new ScenarioError(`no stratum of the model matches the line; strata are ${this.strata.slice(0, 5).join(", ")}...`);
        }
        relaxed.push(left[left.length - 1]);
      }
      const both = zeros(S);
      for (let s = 0; s < S; s++) both[s] = this.laterRows[s] + this.firstRows[s];
      for (const basis of [this.firstRows, both]) {
        const w = zeros(S);
        for (let s = 0; s < S; s++) w[s] = match[s] ? basis[s] : 0;
        const sum = total(w);
        if (sum > 0) return [w.map((v) => v / sum), relaxed];
      }
      const n = match.filter((m) => m).length;
      return [Float64Array.from(match, (m) => (m ? 1 : 0) / n), relaxed];
    }

    // ---------------------------------------------------------------- a programme's validation (config._line)
    validate(raw) {
      const where0 = "programme[0]";
      if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw new ScenarioError(`${where0}: must be a table`);
      const unknownP = Object.keys(raw).filter((k) => !["name", "line"].includes(k)).sort();
      if (unknownP.length) throw new ScenarioError(`${where0}.${unknownP[0]}: unknown field; allowed: name, line`);
      if (typeof raw.name !== "string" || !raw.name.trim()) {
        throw new ScenarioError(`${where0}.name: must be a non-empty string, got ${valueRepr(raw.name)}`);
      }
      if (!Array.isArray(raw.line) || !raw.line.length) {
        throw new ScenarioError(`${where0}.line: need at least one [[programme.line]] table`);
      }
      const c = this.c;
      const int = (v, where, lo, hi) => {
        if (typeof v !== "number" || !Number.isInteger(v)) throw new ScenarioError(`${where}: must be a whole number, got ${valueRepr(v)}`);
        if (v < lo || v > hi) throw new ScenarioError(`${where}: ${valueRepr(v)} is outside ${lo}..${hi}`);
        return v;
      };
      const choice = (v, where, allowed) => {
        if (!allowed.includes(v)) throw new ScenarioError(`${where}: ${valueRepr(v)} is not one of ${allowed.join(", ")}`);
        return v;
      };
      const lines = raw.line.map((line, i) => {
        const where = `${where0}.line[${i}]`;
        if (line === null || typeof line !== "object" || Array.isArray(line)) throw new ScenarioError(`${where}: must be a table`);
        const unknown = Object.keys(line).filter((k) => !LINE_FIELDS.includes(k)).sort();
        if (unknown.length) throw new ScenarioError(`${where}.${unknown[0]}: unknown field; allowed: ${LINE_FIELDS.join(", ")}`);
        for (const key of ["count", "tenure", "rooms"]) if (!(key in line)) throw new ScenarioError(`${where}.${key}: missing`);
        const tenure = choice(line.tenure, `${where}.tenure`, c.tenures);
        let landlord = line.landlord === undefined ? null : line.landlord;
        if (tenure === "rental") landlord = choice(landlord !== null ? landlord : "public", `${where}.landlord`, c.landlords);
        else if (landlord !== null) throw new ScenarioError(`${where}.landlord: only rental dwellings have a landlord (tenure is ${tenure})`);
        const muni = line.municipality === undefined ? null : line.municipality;
        if (muni !== null && !(typeof muni === "string" && /^[0-9]{4}$/.test(muni))) {
          throw new ScenarioError(`${where}.municipality: must be a four-digit string, got ${valueRepr(muni)}`);
        }
        const area = line.area_type === undefined ? null : line.area_type;
        if (area !== null) choice(area, `${where}.area_type`, c.area_types);
        const group = line.target_group === undefined ? null : line.target_group;
        if (group !== null) choice(group, `${where}.target_group`, c.target_groups);
        const level = line.level === undefined ? 1.0 : line.level;
        if (typeof level !== "number" || !Number.isFinite(level)) throw new ScenarioError(`${where}.level: must be a number, got ${valueRepr(level)}`);
        if (level < 0.1 || level > 10) throw new ScenarioError(`${where}.level: ${valueRepr(level)} is outside 0.1..10.0`);
        return {
          count: int(line.count, `${where}.count`, 1, 10000000), tenure, rooms: int(line.rooms, `${where}.rooms`, 1, 5),
          building_type: choice(line.building_type === undefined ? "multi_dwelling" : line.building_type,
                                `${where}.building_type`, c.building_types),
          landlord, municipality: muni, area_type: area, level, target_group: group,
          written: Object.keys(line).sort(),
        };
      });
      return { name: raw.name, lines };
    }

    // ---------------------------------------------------------------- compare.py's helpers
    kinds(prog) {
      const notes = [];
      const [factors, poolNotes] = this.linePools(prog);
      const kinds = prog.lines.map((line, i) => {
        const attrs = {};
        for (const k of this.c.line_attributes) attrs[k] = line[k];
        const [w, relaxed] = this.lineWeights(attrs);
        if (relaxed.length) {
          notes.push(`programme ${pyRepr(prog.name)} line ${i + 1}: no observed stratum with its ${relaxed.join(", ")}; ` +
                     "the model uses the other strata of its kind instead");
        }
        const g = this.groups.indexOf(line.target_group);
        return [w, line.target_group !== null && g >= 0 ? g : null, factors[i]];
      });
      return [kinds, prog.lines.map((l) => l.count), [...notes, ...poolNotes]];
    }

    unusedAttributes(prog) {
      const out = [];
      prog.lines.forEach((line, i) => {
        const written = new Set(line.written);
        const ignored = ["landlord", "building_type", "municipality", "area_type"]
          .filter((k) => written.has(k) && !this.keys.includes(k));
        if (!this.keys.includes("rooms") && !this.keys.includes("size_band")) ignored.push("rooms");
        if (line.level !== 1.0) ignored.push("level");
        if (ignored.length) {
          out.push(`programme ${pyRepr(prog.name)} line ${i + 1}: the transition model ignores ${ignored.join(", ")} ` +
                   `(not among its strata ${this.keys.join(", ")}` +
                   `${ignored.includes("level") ? "; the price level only reaches the microsimulation" : ""})`);
        }
      });
      return out;
    }

    disclosureWarning() {  // evaluation.disclosure_warning
      if (!this.suppressedCells) return [];
      return [`disclosure control withheld ${this.suppressedCells} cells of the model (counts below ` +
              `${this.threshold}): it keeps ${this.records} vacancy records, and its figures rest on those`];
    }

    sparseLines(prog, kinds, minObservations) {
      const out = [];
      kinds.forEach(([w], k) => {
        let n = 0;
        for (let s = 0; s < this.S; s++) if (w[s] > 0) n += this.firstRows[s] + this.laterRows[s];
        n = Math.floor(n + 0.5);  // pooled records spread: fractions (compare.sparse_lines)
        if (n < minObservations) {
          out.push(`programme ${pyRepr(prog.name)} line ${k + 1}: its strata hold ${n} vacancy records ` +
                   `(fewer than ${minObservations}); its figures lean on coarser strata`);
        }
      });
      return out;
    }

    municipalities(prog) {
      return Array.from(new Set(prog.lines.map((l) => l.municipality).filter((m) => m !== null)));
    }

    byKey(key, values) {  // (len(values), S) indicators, or null (compare._by_key)
      if (!this.keys.includes(key) || !values.length) return null;
      const pos = this.keys.indexOf(key);
      return values.map((v) => this.parts.map((p) => (p[pos] === v ? 1 : 0)));
    }

    spec() {  // compare._model_spec
      const c = this.c, out = [];
      for (const a of c.areas) out.push([GROSS, null, a, 100.0]);
      for (const t of c.tenures) out.push([`vacancies_${t}_per_100_new`, t, "region", 100.0]);
      for (const a of c.area_types) out.push([`vacancies_area_${a}_per_100_new`, a, "region", 100.0]);
      for (const a of c.areas) for (const g of this.groups) out.push([`reached_${g}_per_100_new`, g, a, 100.0]);
      for (const r of this.reasons) out.push([`end_${r}_share`, r, "region", 1.0]);
      return out;
    }

    // model.analytic for one line
    expectations(start, group, pool) {
      const pr = this.probabilities(), { S, W, G } = this;
      const [P0, F0] = this.firstRowsOf(group, pool);
      const first = vecMat(start, P0, S, W);
      const visits = solve(pr.lu, first);  // first[:S] @ N
      const filledFirst = zeros(S), filled = zeros(S);
      for (let s = 0; s < S; s++) {
        let m0 = 0;
        for (let j = 0; j < W; j++) m0 += P0[s * W + j] * this.movesFlag[j];
        filledFirst[s] = start[s] * m0;
        filled[s] = visits[s] * pr.moveP[s];
      }
      const byStratum = zeros(S * G), reach = zeros(G), movesBy = zeros(S);
      for (let s = 0; s < S; s++) {
        movesBy[s] = filledFirst[s] + filled[s];
        for (let g = 0; g < G; g++) {
          byStratum[s * G + g] = filledFirst[s] * F0[s * G + g] + filled[s] * pr.F[s * G + g];
          reach[g] += byStratum[s * G + g];
        }
      }
      const R = W - S, ends = zeros(R);
      const later = zeros(R);
      for (let s = 0; s < S; s++) for (let r = 0; r < R; r++) later[r] += visits[s] * pr.P[s * W + S + r];
      for (let r = 0; r < R; r++) ends[r] = first[S + r] + later[r];
      return { moves: total(filledFirst) + total(filled), vacancies: visits, reach, ends, movesBy, byStratum };
    }

    // compare._model_values: (1 + lines) rows of the spec's columns, per new dwelling
    values(kinds, counts, munis) {
      const { S, G } = this, c = this.c;
      const inMuni = this.byKey("municipality", munis);
      const mask = inMuni === null ? null : this.parts.map((_, s) => inMuni.some((row) => row[s] > 0));
      const ten = this.byKey("tenure", c.tenures), area = this.byKey("area_type", c.area_types);
      const dot = (row, v) => { let x = 0; for (let s = 0; s < S; s++) x += row[s] * v[s]; return x; };
      const rows = kinds.map(([start, group, pool]) => {
        const e = this.expectations(start, group, pool);
        let mMv = NaN;
        const mRb = new Array(G).fill(NaN);
        if (mask !== null) {
          mMv = 0; mRb.fill(0);
          for (let s = 0; s < S; s++) {
            if (!mask[s]) continue;
            mMv += e.movesBy[s];
            for (let g = 0; g < G; g++) mRb[g] += e.byStratum[s * G + g];
          }
        }
        return [e.moves, mMv, e.moves - mMv,
                ...(ten !== null ? ten.map((r) => dot(r, e.vacancies)) : c.tenures.map(() => NaN)),
                ...(area !== null ? area.map((r) => dot(r, e.vacancies)) : c.area_types.map(() => NaN)),
                ...e.reach, ...mRb, ...Array.from(e.reach, (v, g) => v - mRb[g]), ...e.ends];
      });
      const sum = counts.reduce((a, b) => a + b, 0);
      const share = counts.map((n) => n / sum);
      const programme = rows[0].map((_, j) => rows.reduce((acc, row, l) => acc + share[l] * row[j], 0));
      return [programme, ...rows];
    }

    row(name, measure, group, est, lo, hi, n, line, area, method) {  // compare._row
      const f = (x) => (x === null || x === undefined || !Number.isFinite(x) ? null : x);
      return { programme: name, line: line === undefined ? null : line, area: area || "region", method: method || METHOD,
               measure, group, estimate: f(est), lower: f(lo), upper: f(hi), n: Math.trunc(n), suppressed: false };
    }

    // compare.expectation_rows with bootstrap=0, with evaluation._with_intervals' intervals
    expectationRows(prog, kinds, counts, munis) {
      const point = this.values(kinds, counts, munis), spec = this.spec();
      const se = this.standardErrors(kinds, counts, munis);
      const n = this.records, sigma = this.modelError(), rows = [];
      const interval = (measure, est, s) => {
        if (!Number.isFinite(s)) return [null, null];
        if (measure === GROSS || measure === "chain_length_mean") s = Math.hypot(s, sigma * est);
        const lo = est - Z975 * s, hi = est + Z975 * s;
        return [Math.max(lo, 0), measure.startsWith("end_") ? Math.min(hi, 1) : hi];
      };
      point.forEach((values, li) => {
        const line = li === 0 ? null : String(li);
        if (li === 0) rows.push(this.row(prog.name, "chain_length_mean", null, values[0], ...interval("chain_length_mean", values[0], se[0][0]), n));
        spec.forEach(([name, group, area, scale], k) => {
          if (area !== "region" && !munis.length) return;
          const est = values[k] * scale;
          if (!Number.isFinite(est)) return;
          rows.push(this.row(prog.name, name, group, est, ...interval(name, est, se[li][k] * scale), n, line, area));
        });
      });
      return rows;
    }

    // ---------------------------------------------------------------- intervals (evaluation.standard_errors)
    hierarchy(n) {  // evaluation._hierarchy: c (levels x S) and each level's records per group
      const levels = this.levels(), S = this.S, k = this.shrinkage, L = levels.length;
      const c = [], totals = [];
      let carry = new Float64Array(S).fill(1);
      levels.forEach((lev, li) => {
        let nGroups = 0;
        for (let i = 0; i < S; i++) nGroups = Math.max(nGroups, lev[i] + 1);
        const tot = zeros(nGroups);
        for (let i = 0; i < S; i++) tot[lev[i]] += n[i];
        totals.push(tot);
        const ci = zeros(S), next = zeros(S);
        for (let i = 0; i < S; i++) {
          const ni = tot[lev[i]];
          const lam = li === L - 1 ? (ni > 0 ? 1 : 0) : (ni > 0 ? ni / Math.max(ni + k, 1e-300) : 0);
          ci[i] = carry[i] * lam;
          next[i] = carry[i] * (1 - lam);
        }
        c.push(ci);
        carry = next;
      });
      return { c, totals };
    }

    through(hier, x) {  // evaluation._Operator @ x
      const levels = this.levels(), S = this.S, out = zeros(S);
      if (!hier.agg) hier.agg = hier.totals.map((tot) => zeros(tot.length));  // scratch, reused
      for (let li = 0; li < levels.length; li++) {
        const lev = levels[li], tot = hier.totals[li], agg = hier.agg[li], ci = hier.c[li];
        agg.fill(0);
        for (let i = 0; i < S; i++) agg[lev[i]] += ci[i] * x[i];
        for (let i = 0; i < S; i++) { const t = tot[lev[i]]; out[i] += t > 0 ? agg[lev[i]] / Math.max(t, 1e-300) : 0; }
      }
      return out;
    }

    sparseRows(counts) {  // the non-zero cells of a count array, row by row (cached per array)
      if (!this._sparse) this._sparse = new Map();
      if (!this._sparse.has(counts)) {
        const { S, W } = this, start = new Int32Array(S + 1), cols = [], p = [];
        const n = rowSums(counts, S, W);
        for (let r = 0; r < S; r++) {
          start[r] = cols.length;
          for (let j = 0; j < W; j++) { const c = counts[r * W + j]; if (c !== 0) { cols.push(j); p.push(c / n[r]); } }
        }
        start[S] = cols.length;
        this._sparse.set(counts, { n, start, cols: Int32Array.from(cols), p: Float64Array.from(p) });
      }
      return this._sparse.get(counts);
    }

    moments(counts, u, z) {  // evaluation._moments, two-pass over the non-zero cells (Python: share-matrix products; equal to rounding)
      const S = this.S, sp = this.sparseRows(counts), { n, start, cols, p } = sp;
      const vu = zeros(S), vz = zeros(S), cuz = zeros(S);
      for (let r = 0; r < S; r++) {
        const lo = start[r], hi = start[r + 1];
        if (lo === hi) continue;
        let mu = 0, mz = 0;
        for (let q = lo; q < hi; q++) { mu += p[q] * u[cols[q]]; mz += p[q] * z[cols[q]]; }
        let a = 0, b = 0, x = 0;
        for (let q = lo; q < hi; q++) {
          const du = u[cols[q]] - mu, dz = z[cols[q]] - mz;
          a += p[q] * du * du; b += p[q] * dz * dz; x += p[q] * du * dz;
        }
        vu[r] = a; vz[r] = b; cuz[r] = x;
      }
      return { n, vu, vz, cuz };
    }

    // evaluation._pool_variance: the new-household pool's term (its gradient d on the outcome nh)
    poolVariance(counts, u, z, nh, ax, ay, ad) {
      const S = this.S, sp = this.sparseRows(counts), { n, start, cols, p } = sp;
      let s = 0;
      for (let r = 0; r < S; r++) {
        const lo = start[r], hi = start[r + 1];
        if (lo === hi) continue;
        let mu = 0, mz = 0, q = 0;
        for (let k = lo; k < hi; k++) { mu += p[k] * u[cols[k]]; mz += p[k] * z[cols[k]]; if (cols[k] === nh) q = p[k]; }
        s += n[r] * (ad[r] * ad[r] * q * (1 - q) + 2 * ax[r] * ad[r] * q * (u[nh] - mu) + 2 * ay[r] * ad[r] * q * (z[nh] - mz));
      }
      return s;
    }

    // evaluation._pool_gradient's s: the scale of a pooled line's first rows (R0 unpooled), 1 where left alone
    poolScale(R0, f, nh) {
      const { S, W } = this, sc = new Float64Array(S).fill(1);
      if (f === 1.0) return sc;
      for (let i = 0; i < S; i++) {
        let sum = 0;
        for (let j = 0; j < W; j++) sum += R0[i * W + j];
        const p = R0[i * W + nh], rest = sum - p;
        if (rest > 0) sc[i] = 1.0 + (1.0 - f) * p / rest;
      }
      return sc;
    }

    variance(mom, ax, ay) {  // evaluation._variance, the gradients carried through already
      let s = 0;
      for (let r = 0; r < this.S; r++) s += mom.n[r] * (ax[r] * ax[r] * mom.vu[r] + ay[r] * ay[r] * mom.vz[r] + 2 * ax[r] * ay[r] * mom.cuz[r]);
      return s;
    }

    bernoulliVariance(hier, hits, n, x) {  // evaluation._bernoulli_variance
      const ax = this.through(hier, x);
      let s = 0;
      for (let r = 0; r < this.S; r++) {
        const p = n[r] > 0 ? hits[r] / Math.max(n[r], 1e-300) : 0;
        s += n[r] * ax[r] * ax[r] * p * (1 - p);
      }
      return s;
    }

    standardErrors(kinds, counts, munis) {  // evaluation.standard_errors: (1 + lines) x spec columns
      const pr = this.probabilities(), { S, W, G } = this, c = this.c, spec = this.spec();
      const m = Float64Array.from(this.movesFlag);
      const sum = counts.reduce((a, b) => a + b, 0), share = counts.map((x) => x / sum);
      const mats = [null, ...Array.from(new Set(kinds.map(([, g]) => g).filter((g) => g !== null))).sort((a, b) => a - b)];
      const key = (g) => (g === null ? "none" : String(g));
      const F0 = {}, firstCounts = {}, hierFirst = {};
      for (const g of mats) {
        F0[key(g)] = g === null ? pr.F : this.allocated(g)[1];
        firstCounts[key(g)] = g === null ? this.first : this.allocatedFirstCounts(g);  // evaluation._first_counts
        hierFirst[key(g)] = this.hierarchy(rowSums(firstCounts[key(g)], S, W));
      }
      const hierLater = this.hierarchy(this.laterRows), hierFill = this.hierarchy(this.fills);
      const vis = [], filled = [], filledFirst = [];
      for (const [w, g, pool] of kinds) {
        const p0 = this.firstRowsOf(g, pool)[0];  // the line's first rows, its pool applied
        const v = solve(pr.lu, vecMat(w, p0, S, W));
        vis.push(v);
        const fl = zeros(S), ff = zeros(S);
        for (let s = 0; s < S; s++) {
          fl[s] = v[s] * pr.moveP[s];
          let m0 = 0;
          for (let j = 0; j < W; j++) m0 += p0[s * W + j] * m[j];
          ff[s] = w[s] * m0;
        }
        filled.push(fl); filledFirst.push(ff);
      }
      const sets = [kinds.map((_, li) => [li, share[li]]), ...kinds.map((_, li) => [[li, 1.0]])];
      const masks = { region: new Float64Array(S).fill(1) };
      const inMuni = this.byKey("municipality", munis);
      if (inMuni !== null) {
        masks.municipality = Float64Array.from(this.parts, (_, s) => (inMuni.some((row) => row[s] > 0) ? 1 : 0));
        masks.rest = masks.municipality.map((v) => 1 - v);
      }
      const ten = this.byKey("tenure", c.tenures), areaInd = this.byKey("area_type", c.area_types);
      const out = sets.map(() => new Array(spec.length).fill(NaN));
      const weighted = (members, arrs) => {
        const acc = zeros(S);
        for (const [li, wt] of members) for (let s = 0; s < S; s++) acc[s] += wt * arrs[li][s];
        return acc;
      };
      // per set (the programme, each line): what does not depend on the figure
      const setVis = sets.map((members) => weighted(members, vis));
      const setAyLater = setVis.map((vw) => this.through(hierLater, vw));
      const nh = this.reasons.includes(POOL_REASON) ? S + this.reasons.indexOf(POOL_REASON) : null;
      const unpooled = {};  // each mat's fine first rows before the pool
      for (const g of mats) unpooled[key(g)] = this.firstRowsOf(g, 1.0)[0];
      const pooledMat = {};  // mats with a line whose pool applies (evaluation.standard_errors)
      for (const g of mats) pooledMat[key(g)] = nh !== null && kinds.some(([, kg, f]) => kg === g && f !== 1.0);
      const scaledStart = kinds.map(([w, g, f]) => {
        if (!pooledMat[key(g)]) return w;
        const sc = this.poolScale(unpooled[key(g)], f, nh);
        return Float64Array.from(w, (v, s) => v * sc[s]);
      });
      const setFirst = sets.map((members) => {
        const byMat = {};
        for (const g of mats) {
          const mine = members.filter(([li]) => kinds[li][1] === g);
          if (!mine.length) { byMat[key(g)] = null; continue; }
          const start = weighted(mine, scaledStart);
          byMat[key(g)] = { start, mine, ay: this.through(hierFirst[key(g)], start) };
        }
        return byMat;
      });
      const groupHits = this.groups.map((_, gi) => Float64Array.from(this.parts, (_, s) => this.groupFills[s * G + gi]));
      const setFilled = sets.map((members) => {
        const d = zeros(S);
        for (const [li, wt] of members) {
          for (let s = 0; s < S; s++) d[s] += wt * (filled[li][s] + (kinds[li][1] === null ? filledFirst[li][s] : 0));
        }
        return d;
      });
      spec.forEach(([name, group, area], col) => {
        if (!(area in masks)) return;
        let b = zeros(W), gi = null, a = new Float64Array(S).fill(1);
        const a0 = {};
        for (const g of mats) a0[key(g)] = new Float64Array(S).fill(1);
        if (name === GROSS || name.startsWith("reached_")) {
          b = m;
          a = Float64Array.from(masks[area]);
          for (const g of mats) a0[key(g)] = masks[area];
          if (name.startsWith("reached_")) {
            gi = this.groups.indexOf(group);
            a = a.map((v, s) => v * pr.F[s * G + gi]);
            for (const g of mats) { const f0 = F0[key(g)]; a0[key(g)] = masks[area].map((v, s) => v * f0[s * G + gi]); }
          }
        } else if (name.startsWith("vacancies_")) {
          const areaKind = name.startsWith("vacancies_area_");
          const ind = areaKind ? areaInd : ten;
          if (ind === null) return;
          const row = ind[(areaKind ? c.area_types : c.tenures).indexOf(group)];
          for (let s = 0; s < S; s++) b[s] = row[s];
        } else {
          b[S + this.reasons.indexOf(group)] = 1;
        }
        const r = zeros(S), P = pr.P;
        for (let s = 0; s < S; s++) { let x = 0; for (let j = 0; j < W; j++) x += P[s * W + j] * b[j]; r[s] = a[s] * x; }
        const h = solveRight(pr.lu, r), z = zeros(W);
        z.set(h);
        const momLater = this.moments(this.later, b, z), momFirst = {};
        for (const g of mats) momFirst[key(g)] = this.moments(firstCounts[key(g)], b, z);
        const poolD = {};  // per pooled mat: (line) => d (S,), evaluation._pool_gradient's d for this figure
        for (const g of mats) {
          if (!pooledMat[key(g)]) continue;
          const R0 = unpooled[key(g)], a0g = a0[key(g)];
          const cnh = zeros(S), rho = zeros(S), pp = zeros(S), rest = zeros(S);
          for (let i = 0; i < S; i++) {
            let sum = 0, rb = 0, rz = 0;
            for (let j = 0; j < W; j++) { const v = R0[i * W + j]; sum += v; rb += v * b[j]; rz += v * z[j]; }
            pp[i] = R0[i * W + nh]; rest[i] = sum - pp[i];
            cnh[i] = a0g[i] * b[nh] + z[nh];
            const safe = rest[i] > 0 ? rest[i] : 1.0;
            rho[i] = (a0g[i] * rb + rz - pp[i] * cnh[i]) / safe;
          }
          poolD[key(g)] = (li) => {
            const f = kinds[li][2], d = zeros(S);
            if (f === 1.0) return d;
            for (let i = 0; i < S; i++) {
              if (!(rest[i] > 0)) continue;
              const sc = 1.0 + (1.0 - f) * pp[i] / rest[i];
              d[i] = cnh[i] * (f - sc) + rho[i] * ((1.0 - f) * (rest[i] + pp[i]) / rest[i]);
            }
            return d;
          };
        }
        sets.forEach((members, si) => {
          const vw = setVis[si], ones = a.every((v) => v === 1);
          let tot = this.variance(momLater, ones ? setAyLater[si] : this.through(hierLater, vw.map((v, s) => v * a[s])),
                                  setAyLater[si]);
          for (const g of mats) {
            const first = setFirst[si][key(g)];
            if (first === null) continue;
            const a0g = a0[key(g)], ax = a0g.every((v) => v === 1) ? first.ay
              : this.through(hierFirst[key(g)], first.start.map((v, s) => v * a0g[s]));
            tot += this.variance(momFirst[key(g)], ax, first.ay);
            if (pooledMat[key(g)]) {
              const dsum = zeros(S);
              for (const [li, wt] of first.mine) {
                const d = poolD[key(g)](li), w = kinds[li][0];
                for (let s = 0; s < S; s++) dsum[s] += wt * w[s] * d[s];
              }
              const ad = this.through(hierFirst[key(g)], dsum);
              tot += this.poolVariance(firstCounts[key(g)], b, z, nh, ax, first.ay, ad);
            }
          }
          if (gi !== null) {
            const d = setFilled[si], mask = masks[area];
            tot += this.bernoulliVariance(hierFill, groupHits[gi], this.fills, d.map((v, s) => v * mask[s]));
          }
          out[si][col] = Math.sqrt(Math.max(tot, 0));
        });
      });
      return out;
    }

    effectiveChains(kinds, share) {  // evaluation.effective_chains
      let inv = 0;
      for (let l = 0; l < kinds.length; l++) {
        const w = kinds[l][0];
        let n = 0;
        for (const lev of this.levels()) {  // the line's own strata, then their parents (as its rows borrow)
          const groups = new Set();
          for (let s = 0; s < this.S; s++) if (w[s] > 0) groups.add(lev[s]);
          let nf = 0, nb = 0;
          for (let s = 0; s < this.S; s++) if (groups.has(lev[s])) { nf += this.firstRows[s]; nb += this.firstRows[s] + this.laterRows[s]; }
          n = nf || nb;
          if (n > 0) break;
        }
        if (n <= 0) return 0;
        inv += share[l] * share[l] / n;
      }
      return inv > 0 ? 1 / inv : 0;
    }

    shareInterval(p, extra, n) {  // evaluation._share_interval
      if (!(n > 0)) return [null, null];
      const half = Z975 * Math.sqrt(Math.max(p * (1 - p), 0) / n + extra);
      return [Math.max(p - half, 0), Math.min(p + half, 1)];
    }

    // ---------------------------------------------------------------- displacement-adjusted gross (evaluation.net_for_lines)
    netForLines(prog, rows, n) {
      const saved = this.meta.displacement;
      if (saved === undefined || saved === null) {
        return [[], ["the model carries no displacement ratios (it was not saved by a scenario run with a " +
                     "microsimulation): the displacement-adjusted gross is not shown, only gross"]];
      }
      const gross = new Map();
      for (const r of rows) if (r.measure === GROSS && r.area === "region") gross.set(r.line, r);
      const out = [], notes = [], parts = [];
      prog.lines.forEach((line, i) => {
        const rooms = this.attributeLabel("rooms", line.rooms), muni = line.municipality, group = line.target_group;
        const same = (a, b) => String(a === undefined ? null : a) === String(b === undefined ? null : b);
        const d = saved.find((x) => same(x.tenure, line.tenure) && same(x.rooms, rooms) && same(x.municipality, muni)
                                    && same(x.target_group, group));
        if (d === undefined) {
          notes.push(`programme ${pyRepr(prog.name)} line ${i + 1}: the model carries no displacement ratio for ` +
                     `${line.tenure}, ${rooms} rooms, ${muni || "no municipality"}, ` +
                     `${group ? "allocated to " + group : "not allocated"}: its displacement-adjusted gross is not shown`);
          parts.push(null);
          return;
        }
        const g = gross.get(String(i + 1));
        const seG = g.upper !== null ? (g.upper - g.estimate) / Z975 : 0;
        const est = g.estimate * d.ratio, se = Math.hypot(d.ratio * seG, g.estimate * d.se), id = String(i + 1);
        out.push(this.row(prog.name, RATIO, null, d.ratio, d.lower, d.upper, d.replications, id, "region", NET_METHOD));
        if (!ratioResolved(d)) {  // gross × a ratio that may be 0 or negative is no estimate of net
          notes.push(`programme ${pyRepr(prog.name)} line ${i + 1}: the displacement ratio of its kind is not resolved ` +
                     `(its 95% interval includes 0 after ${d.replications} replications): its ` +
                     "displacement-adjusted gross is not shown");
          parts.push(null);
          return;
        }
        out.push(this.row(prog.name, ADJUSTED, null, est, est - Z975 * se, est + Z975 * se, n, id, "region", NET_METHOD));
        parts.push([line.count, est, se]);
      });
      if (parts.length && parts.every((p) => p !== null)) {
        const tot = parts.reduce((a, [c]) => a + c, 0);
        let est = 0, v = 0;
        for (const [c, e] of parts) est += c / tot * e;
        for (const [c, , s] of parts) v += (c / tot * s) ** 2;
        const se = Math.sqrt(v);
        out.unshift(this.row(prog.name, ADJUSTED, null, est, est - Z975 * se, est + Z975 * se, n, null, "region", NET_METHOD));
      }
      return [out, notes];
    }

    firstMatrix(group, pool) { return this.firstRowsOf(group, pool)[0]; }

    lengthDistribution(start, group, pool) {  // evaluation.length_distribution
      const pr = this.probabilities(), { S, W } = this;
      const hist = zeros(LENGTH_BINS);
      const split = (b) => {
        let stop = 0, move = 0;
        for (let j = S; j < W; j++) { if (this.movesFlag[j]) move += b[j]; else stop += b[j]; }
        return [stop, move];
      };
      const a = vecMat(start, this.firstMatrix(group, pool), S, W);
      let [stop, move] = split(a);
      hist[0] += stop; hist[1] += move;
      let v = a.slice(0, S);
      for (let length = 1; length < LENGTH_BINS - 1; length++) {
        const b = vecMat(v, pr.P, S, W);
        [stop, move] = split(b);
        hist[length] += stop; hist[length + 1] += move;
        v = b.slice(0, S);
      }
      let head = 0;
      for (let i = 0; i < LENGTH_BINS - 1; i++) head += hist[i];
      hist[LENGTH_BINS - 1] = Math.max(1 - head, 0);
      return hist;
    }

    roundVacancies(start, group, pool) {  // evaluation.round_vacancies: (ROUNDS, S)
      const pr = this.probabilities(), { S, W } = this;
      const out = [vecMat(start, this.firstMatrix(group, pool), S, W).slice(0, S)];
      for (let k = 1; k < ROUNDS; k++) out.push(vecMat(out[k - 1], pr.P, S, W, S));
      return out;
    }

    // ---------------------------------------------------------------- evaluation.evaluate
    evaluate(programme, minObservations = 30) {
      const prog = this.validate(programme);
      const [kinds, counts, relaxed] = this.kinds(prog);
      const munis = this.municipalities(prog);
      const rows = this.expectationRows(prog, kinds, counts, munis);
      const sum = counts.reduce((a, b) => a + b, 0);
      const share = counts.map((n) => n / sum);
      const n = this.records, S = this.S, pr = this.probabilities();
      const nEff = this.effectiveChains(kinds, share);
      const hist = zeros(LENGTH_BINS);
      kinds.forEach(([w, g, f], l) => { const h = this.lengthDistribution(w, g, f); for (let i = 0; i < LENGTH_BINS; i++) hist[i] += share[l] * h[i]; });
      hist.forEach((v, k) => rows.push(this.row(prog.name, "chain_length_share", k === LENGTH_BINS - 1 ? `${k}+` : String(k), v,
                                                 ...this.shareInterval(v, 0, nEff), n)));
      const vacated = Array.from({ length: ROUNDS }, () => zeros(S));
      kinds.forEach(([w, g, f], l) => {
        const r = this.roundVacancies(w, g, f);
        for (let k = 0; k < ROUNDS; k++) for (let s = 0; s < S; s++) vacated[k][s] += share[l] * r[k][s];
      });
      const totals = vacated.map(total);
      if (pr.B !== null) {  // into below-median-income areas
        const vn = rowSums(this.vacatedIncome, S, 2), hits = zeros(S);
        for (let s = 0; s < S; s++) hits[s] = this.vacatedIncome[s * 2];
        const hier = this.hierarchy(vn);
        for (let k = 0; k < ROUNDS; k++) {
          if (!(totals[k] > 0)) continue;
          const f = vacated[k].map((v) => v / totals[k]);
          let value = 0;
          for (let s = 0; s < S; s++) value += f[s] * pr.B[s];
          const extra = this.bernoulliVariance(hier, hits, vn, f);
          rows.push(this.row(prog.name, ROUNDS_MEASURE, String(k + 1), value, ...this.shareInterval(value, extra, nEff * totals[k]), n));
        }
      }
      if (this.keys.includes("area_type")) {
        const pos = this.keys.indexOf("area_type");
        for (const a of this.c.area_types) {
          for (let k = 0; k < ROUNDS; k++) {
            let inside = 0;
            for (let s = 0; s < S; s++) inside += vacated[k][s] * (this.parts[s][pos] === a ? 1 : 0);
            if (totals[k] > 0) {
              const value = inside / totals[k];
              rows.push(this.row(prog.name, `vacancies_area_${a}_share_by_round`, String(k + 1), value,
                                 ...this.shareInterval(value, 0, nEff * totals[k]), n));
            }
          }
        }
      }
      const [netRows, netNotes] = this.netForLines(prog, rows, n);
      rows.push(...netRows);
      const warnings = [...this.disclosureWarning(), ...this.unusedAttributes(prog), ...relaxed,
                        ...this.sparseLines(prog, kinds, minObservations), ...netNotes];
      if (pr.B === null) {
        warnings.push("the model holds no area incomes (estimated without the register's areas): " +
                      "no rounds into below-median-income areas");
      }
      return { programme: prog.name, dwellings: sum, municipalities: munis, model_error: this.modelError(), rows, warnings };
    }
  }

  global.FlyttkedjaModel = Model;
  global.FlyttkedjaScenarioError = ScenarioError;
})(typeof window !== "undefined" ? window : globalThis);
