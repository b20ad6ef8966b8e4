// cnnlab explore: the tree, the receptive-field overlay and the unit animations. No library, no network.
(function () {
  "use strict";
  var scriptStartMs = performance.now();
  var D = JSON.parse(document.getElementById("data").textContent);
  var ROWS = D.rows;
  var $ = function (id) { return document.getElementById(id); };

  // ---- numbers --------------------------------------------------------------------------------
  function fmt(n) { return n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US"); }
  function si(n) {
    var a = Math.abs(n);
    if (a >= 1e9) return (n / 1e9).toFixed(2) + " G";
    if (a >= 1e6) return (n / 1e6).toFixed(2) + " M";
    if (a >= 1e3) return (n / 1e3).toFixed(1) + " k";
    return String(n);
  }
  function shape(s) { return s ? s.join("×") : "–"; }
  function axes(rf, key) { return rf.map(function (a) { return a ? a[key] : "?"; }).join("×"); }
  function rSize(rf) {
    var r = axes(rf, "r"), rmin = axes(rf, "r_min");
    return r === rmin ? r : rmin + "–" + r;
  }
  function rfLine(rf) {
    return rf ? "r " + rSize(rf) + " · j " + axes(rf, "jump") + " · start " + axes(rf, "start") : "no spatial field";
  }
  function ms(s) { return (s * 1e3).toFixed(3) + " ms"; }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // ---- header ---------------------------------------------------------------------------------
  function header() {
    $("title").textContent = D.model + " · input " + shape(D.input);
    var t = D.totals, box = $("totals");
    var parts = ["params " + fmt(t.params), "MACs " + fmt(t.macs) + " (" + si(t.macs) + ")",
                 "FLOPs " + si(t.flops), "units " + ROWS.length, "traced with " + D.traced_with];
    if (t.rf) parts.push("receptive field r " + t.rf.r.join("×") + ", j " + t.rf.jump.join("×") + ", start " +
                         t.rf.start.join("×") + " at " + t.rf.layer);
    if (D.profile) parts.push("latency " + ms(D.profile.latency_s) + " (measured)");
    parts.concat(D.notes).forEach(function (p) { box.appendChild(el("span", "", p)); });
  }

  // ---- the tree -------------------------------------------------------------------------------
  function lastName(path) { var p = path.split("."); return p[p.length - 1] || path; }
  function groupLatency(item) {
    var total = 0, any = false;
    for (var i = item.first; i <= item.last; i++) {
      if (ROWS[i].prof) { total += ROWS[i].prof.latency_s; any = true; }
    }
    return any ? total : null;
  }
  function statsLine(parent, row, params, macs, latency) {
    parent.appendChild(el("div", "nums", "out " + shape(row.out) + " · params " + fmt(params) + " · MACs " + si(macs)));
    parent.appendChild(el("div", "rf", rfLine(row.rf)));
    if (latency !== null && latency !== undefined) {
      var prof = row.prof && row.prof.latency_s === latency ? row.prof : null;
      var text = "latency " + ms(latency);
      if (prof) text += " · " + (100 * prof.share).toFixed(0) + "% of attainable (" + prof.bound + "-bound)";
      parent.appendChild(el("div", "prof", text));
    }
  }

  function unitNode(item) {
    var row = ROWS[item.id], box = el("div", "node unit");
    box.dataset.row = item.id;
    var head = el("div");
    head.appendChild(el("span", "name", lastName(row.path)));
    head.appendChild(el("span", "type", row.type));
    box.appendChild(head);
    statsLine(box, row, row.params, row.macs, row.prof ? row.prof.latency_s : null);
    box.addEventListener("click", function (ev) { ev.stopPropagation(); select(item.id, box); });
    return box;
  }

  function foldable(item, cls, title, open) {
    var box = el("div", "node " + cls), head = el("div", "head"), toggle = el("span", "toggle", "▸");
    head.appendChild(toggle);
    head.appendChild(title);
    box.appendChild(head);
    statsLine(head, item, item.params, item.macs, groupLatency(item));
    var body = null;
    function setOpen(on) {
      toggle.textContent = on ? "▾" : "▸";
      box.dataset.open = on ? "1" : "0";
      if (on && !body) { body = open(); box.appendChild(body); }
      if (body) body.hidden = !on;
      redrawEdges();
    }
    head.addEventListener("click", function (ev) {
      ev.stopPropagation();
      setOpen(box.dataset.open !== "1");
      select(null, null, item);
    });
    box.setOpen = setOpen;
    return box;
  }

  function groupNode(item) {
    var title = el("span", "name", item.name);
    title.appendChild(el("span", "type", item.units + " units"));
    var box = foldable(item, "group", title, function () { return graph(item); });
    box.dataset.path = item.path;
    return box;
  }

  function repeatNode(item) {
    var first = item.items[0], last = item.items[item.items.length - 1];
    var title = el("span", "name", first.name + "–" + last.name);
    title.appendChild(el("span", "times", "× " + item.n));
    title.appendChild(el("span", "type", "identical blocks: same units, shapes, params and MACs"));
    var box = foldable(item, "repeat", title, function () {
      var chain = el("div", "chain");
      item.items.forEach(function (g) { chain.appendChild(groupNode(g)); });
      return chain;
    });
    box.dataset.path = first.path;
    return box;
  }

  function itemNode(item) {
    return item.t === "u" ? unitNode(item) : item.t === "r" ? repeatNode(item) : groupNode(item);
  }

  // A group's items laid out by layer (branches side by side); edges drawn once the boxes have sizes.
  function graph(group) {
    var g = el("div", "graph"), layers = [], nodes = [];
    var svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("class", "edges");
    g.appendChild(svg);
    group.items.forEach(function (item, k) {
      var L = group.layers[k];
      while (layers.length <= L) { var row = el("div", "layer"); layers.push(row); g.appendChild(row); }
      var node = itemNode(item);
      layers[L].appendChild(node);
      nodes.push(node);
    });
    g.graphData = {group: group, nodes: nodes, svg: svg};
    return g;
  }

  var pendingDraw = false;
  function redrawEdges() {
    if (pendingDraw) return;
    pendingDraw = true;
    requestAnimationFrame(function () {
      pendingDraw = false;
      var graphs = document.querySelectorAll(".graph");
      for (var i = 0; i < graphs.length; i++) {
        if (graphs[i].offsetParent !== null) drawEdges(graphs[i]);
      }
    });
  }

  function path(svg, d, dashed) {
    var p = document.createElementNS("http://www.w3.org/2000/svg", "path");
    p.setAttribute("d", d);
    p.setAttribute("fill", "none");
    p.setAttribute("stroke", "#8a94a6");
    p.setAttribute("stroke-width", "1.3");
    if (dashed) p.setAttribute("stroke-dasharray", "4 3");
    p.setAttribute("marker-end", "url(#arrow)");
    svg.appendChild(p);
  }

  function drawEdges(g) {
    var info = g.graphData, group = info.group, svg = info.svg, base = g.getBoundingClientRect();
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    svg.setAttribute("width", g.offsetWidth);
    svg.setAttribute("height", g.offsetHeight);
    var rects = info.nodes.map(function (n) {
      var r = n.getBoundingClientRect();
      return {x: r.left - base.left, y: r.top - base.top, w: r.width, h: r.height};
    });
    var inX = g.offsetWidth / 2, inY = 4, right = 0, left = 0;
    var dot = document.createElementNS("http://www.w3.org/2000/svg", "circle");
    dot.setAttribute("cx", inX); dot.setAttribute("cy", inY); dot.setAttribute("r", 3); dot.setAttribute("fill", "#8a94a6");
    svg.appendChild(dot);
    group.ins.forEach(function (b) {
      var r = rects[b];
      if (group.layers[b] === 0) {
        path(svg, "M" + inX + "," + inY + " L" + (r.x + r.w / 2) + "," + r.y, false);
      } else {  // the block's input skips ahead: an identity shortcut, on the left
        var x = 10 + 6 * (left++ % 3);
        path(svg, "M" + inX + "," + inY + " L" + x + "," + inY + " L" + x + "," + (r.y + r.h / 2) + " L" + r.x + "," +
             (r.y + r.h / 2), true);
      }
    });
    group.edges.forEach(function (e) {
      var a = rects[e[0]], b = rects[e[1]];
      var span = group.layers[e[1]] - group.layers[e[0]];
      if (span <= 1) {
        var x1 = a.x + a.w / 2, y1 = a.y + a.h, x2 = b.x + b.w / 2, y2 = b.y, my = (y1 + y2) / 2;
        path(svg, "M" + x1 + "," + y1 + " C" + x1 + "," + my + " " + x2 + "," + my + " " + x2 + "," + y2, false);
      } else {  // a skip over layers (a projection shortcut, a late merge): along the right side
        var gx = g.offsetWidth - 10 - 6 * (right++ % 3);
        path(svg, "M" + (a.x + a.w) + "," + (a.y + a.h / 2) + " L" + gx + "," + (a.y + a.h / 2) + " L" + gx + "," +
             (b.y + b.h / 2) + " L" + (b.x + b.w) + "," + (b.y + b.h / 2), false);
      }
    });
  }

  // ---- selection and details ------------------------------------------------------------------
  var selected = {row: null, box: null, unit: null, target: null};

  function detail(target, group) {
    var box = $("detail");
    box.innerHTML = "";
    var table = el("table");
    table.id = "detail-table";
    function add(key, label, value) {
      var tr = el("tr");
      tr.appendChild(el("td", "", label));
      var td = el("td", "v", value);
      td.dataset.k = key;
      tr.appendChild(td);
      table.appendChild(tr);
    }
    if (group) {
      add("path", group.t === "r" ? "repeat" : "group", (group.path || D.model) + (group.t === "r" ? " … × " + group.n : ""));
      add("units", "units", String(group.units));
      add("out", "output", shape(group.out));
    } else {
      add("path", "unit", target.path);
      add("type", "type", target.type + " (" + target.kind + ")");
      add("in", "input", shape(target.in));
      add("out", "output", shape(target.out));
    }
    add("params", "params", fmt(target.params));
    add("macs", "MACs", fmt(target.macs));
    add("flops", "FLOPs", fmt(target.flops));
    if (target.rf) {
      add("r", "r", axes(target.rf, "r"));
      if (axes(target.rf, "r") !== axes(target.rf, "r_min")) add("r_min", "r_min", axes(target.rf, "r_min"));
      add("jump", "jump", axes(target.rf, "jump"));
      add("start", "start", axes(target.rf, "start"));
      add("period", "period", axes(target.rf, "period"));
    } else {
      add("r", "r", "no spatial field");
    }
    var latency = group ? groupLatency(group) : target.prof ? target.prof.latency_s : null;
    if (latency !== null) add("latency", "latency", ms(latency));
    if (!group && target.prof) {
      var p = target.prof;
      add("intensity", "intensity", p.intensity.toFixed(2) + " FLOP/byte");
      add("achieved", "achieved", (p.achieved_flops / 1e9).toFixed(2) + " GFLOP/s of " +
          (p.attainable_flops / 1e9).toFixed(2) + " attainable");
      add("share", "share", (100 * p.share).toFixed(1) + "% (" + p.bound + "-bound)");
    }
    if (target.note) add("note", "note", target.note);
    box.appendChild(table);
  }

  function select(id, box, group) {
    if (selected.box) selected.box.classList.remove("selected");
    if (box) box.classList.add("selected");
    var target = group || ROWS[id];
    selected = {row: id, box: box, unit: null, target: target};
    detail(target, group);
    $("detail").dataset.path = target.path;
    if (target.map) selected.unit = target.map.map(function (n) { return Math.floor(n / 2); });
    drawOverlay();
    if (group) {
      stopAnimation();
      $("anim-note").textContent = "Select a unit (a convolution, pooling, transposed convolution or upsampling) " +
        "to see its window move.";
    } else {
      startAnimation(target);
    }
    drawRoof(group ? null : target);
  }

  // ---- receptive field overlay ----------------------------------------------------------------
  var picture = null;
  if (D.image) {
    picture = new Image();
    picture.onload = function () { drawOverlay(); };
    picture.src = D.image;
  }
  var erfImages = {};
  if (D.effective) {
    Object.keys(D.effective.by_path).forEach(function (path) {
      var im = new Image();
      im.onload = function () { if (selected.target && selected.target.path === path) drawOverlay(); };
      im.src = D.effective.by_path[path].png;
      erfImages[path] = im;
    });
  }
  var inputHW = D.input.length >= 4 ? D.input.slice(-2) : [1, D.input[D.input.length - 1]];

  function axisBox(a, u) {  // input pixels first..last of unit u along one axis, or null
    if (!a) return null;
    if (a.boxes) {
      var phase = ((u % a.period) + a.period) % a.period, cycles = Math.floor(u / a.period), b = a.boxes[phase];
      return b ? [b[0] + cycles * a.shift, b[1] + cycles * a.shift] : null;
    }
    var c = a.start + u * a.jump;  // a long period: the mean field (exact when every unit is alike)
    return [Math.round(c - a.r / 2), Math.round(c - a.r / 2) + a.r - 1];
  }

  function unitBox(row, unit) {
    var rf = row.rf.length === 2 ? row.rf : [null, row.rf[0]];
    var u = row.rf.length === 2 ? unit : [0, unit[0]];
    var bh = rf[0] ? axisBox(rf[0], u[0]) : [0, inputHW[0] - 1], bw = axisBox(rf[1], u[1]);
    return bh && bw ? {top: bh[0], bottom: bh[1] + 1, left: bw[0], right: bw[1] + 1} : null;
  }

  var view = null;
  function drawOverlay() {
    var cv = $("overlay"), ctx = cv.getContext("2d"), note = $("overlay-note");
    var H = inputHW[0], W = inputHW[1];
    ctx.clearRect(0, 0, cv.width, cv.height);
    var row = selected.target;
    var box = row && row.rf && selected.unit ? unitBox(row, selected.unit) : null;
    var x0 = Math.min(0, box ? box.left : 0), x1 = Math.max(W, box ? box.right : W);
    var y0 = Math.min(0, box ? box.top : 0), y1 = Math.max(H, box ? box.bottom : H);
    var pad = 0.03 * Math.max(x1 - x0, y1 - y0);
    x0 -= pad; x1 += pad; y0 -= pad; y1 += pad;
    var s = Math.min(cv.width / (x1 - x0), cv.height / (y1 - y0));
    var ox = (cv.width - s * (x1 - x0)) / 2 - s * x0, oy = (cv.height - s * (y1 - y0)) / 2 - s * y0;
    view = {s: s, ox: ox, oy: oy};
    function X(x) { return ox + s * x; }
    function Y(y) { return oy + s * y; }
    ctx.fillStyle = "#eef1f4";
    ctx.fillRect(0, 0, cv.width, cv.height);
    if (picture && picture.complete && picture.naturalWidth) {
      ctx.drawImage(picture, X(0), Y(0), s * W, s * H);
    } else {  // a neutral grid for the input
      ctx.fillStyle = "#ffffff";
      ctx.fillRect(X(0), Y(0), s * W, s * H);
      ctx.strokeStyle = "#d8dee4";
      ctx.lineWidth = 1;
      var step = Math.max(1, Math.round(Math.max(W, H) / 16));
      for (var gx = 0; gx <= W; gx += step) { ctx.beginPath(); ctx.moveTo(X(gx), Y(0)); ctx.lineTo(X(gx), Y(H)); ctx.stroke(); }
      for (var gy = 0; gy <= H; gy += step) { ctx.beginPath(); ctx.moveTo(X(0), Y(gy)); ctx.lineTo(X(W), Y(gy)); ctx.stroke(); }
    }
    ctx.strokeStyle = "#57606a";
    ctx.strokeRect(X(0), Y(0), s * W, s * H);
    var lines = [D.image_note];
    var erf = row && D.effective ? D.effective.by_path[row.path] : null;
    var erfShown = erf && selected.unit && erf.unit.join(",") === selected.unit.join(",");
    if (erfShown && erfImages[row.path].complete) {
      ctx.drawImage(erfImages[row.path], X(0), Y(0), s * W, s * H);
      if (erf.side) {
        ctx.strokeStyle = "#d62828";
        ctx.setLineDash([2, 3]);
        ctx.strokeRect(X(erf.centre[1] - erf.side / 2), Y(erf.centre[0] - erf.side / 2), s * erf.side, s * erf.side);
        ctx.setLineDash([]);
      }
    }
    if (erfShown) {
      lines.push("Red: the effective field of this unit (" + Math.round(100 * erf.mass) + "% of the gradient mass " +
                 "within the dotted square of side " + (erf.side ? erf.side.toFixed(1) : "?") + " px; theoretical r " +
                 erf.r + ").");
    } else if (erf) {
      lines.push("The effective field was computed for the centre unit " + erf.unit.join(",") + " only.");
    }
    lines.push(D.effective ? D.effective.note : "Effective fields: not computed (they need an image and real " +
               "weights: give --image, and --checkpoint for trained weights).");
    $("overlay").dataset.erf = erfShown ? "1" : "0";
    cv.dataset.box = "";
    if (!row) {
      note.textContent = lines.join(" ");
      return;
    }
    if (!row.rf) {
      lines.unshift(row.path + " has no spatial field (after global pooling every output reads the whole input).");
    } else if (!box) {
      lines.unshift("unit " + selected.unit.join(",") + " of " + row.path + " reads no input pixel.");
    } else {
      ctx.fillStyle = "rgba(255, 212, 0, 0.18)";
      ctx.fillRect(X(box.left), Y(box.top), s * (box.right - box.left), s * (box.bottom - box.top));
      ctx.lineWidth = 2;
      ctx.strokeStyle = "#f2b705";
      ctx.setLineDash([]);
      ctx.strokeRect(X(Math.max(0, box.left)), Y(Math.max(0, box.top)),
                     s * (Math.min(W, box.right) - Math.max(0, box.left)), s * (Math.min(H, box.bottom) - Math.max(0, box.top)));
      ctx.setLineDash([5, 4]);
      ctx.strokeRect(X(box.left), Y(box.top), s * (box.right - box.left), s * (box.bottom - box.top));
      ctx.setLineDash([]);
      var cx = (box.left + box.right) / 2, cy = (box.top + box.bottom) / 2;
      ctx.strokeStyle = "#d1242f";
      ctx.beginPath(); ctx.moveTo(X(cx) - 6, Y(cy)); ctx.lineTo(X(cx) + 6, Y(cy));
      ctx.moveTo(X(cx), Y(cy) - 6); ctx.lineTo(X(cx), Y(cy) + 6); ctx.stroke();
      var text = "unit (" + selected.unit.join(",") + ") of the " + row.map.join("×") + " map of " + row.path +
                 ": theoretical field rows " + box.top + ".." + (box.bottom - 1) + ", cols " + box.left + ".." +
                 (box.right - 1) + " (" + (box.bottom - box.top) + "×" + (box.right - box.left) + " px; dashed where it" +
                 " reaches past the image into the padding).";
      lines.unshift(text);
      cv.dataset.box = [box.top, box.bottom - 1, box.left, box.right - 1].join(",");
    }
    note.textContent = lines.join(" ");
  }

  $("overlay").addEventListener("click", function (ev) {
    if (!selected.target || !view) return;
    var row = selected.target;
    if (!row.rf || !row.map) return;
    var r = ev.target.getBoundingClientRect();
    var x = (ev.clientX - r.left - view.ox) / view.s, y = (ev.clientY - r.top - view.oy) / view.s;
    var pos = row.rf.length === 2 ? [y, x] : [x];
    selected.unit = pos.map(function (p, k) {
      var a = row.rf[k];
      if (!a) return selected.unit[k];
      var u = Math.round((p - a.start) / a.jump);
      return Math.max(0, Math.min(row.map[k] - 1, u));
    });
    drawOverlay();
  });

  // ---- animations (Dumoulin & Visin's convolution arithmetic, with the unit's own numbers) ------
  var anim = {timer: null, frame: 0, plan: null, playing: true};

  var ONE_D = D.input.length === 3;  // a 1-D network: the row axis is a single row

  function convTAxis(g, a) {  // the zero-inserted input (L cells), padded by d(F-1)-P, read at stride 1
    var k = g.k[a], s = g.s[a], d = g.d[a], keff = d * (k - 1) + 1;
    var n = Math.max(2, Math.min(4, 6 - s)), L = (n - 1) * s + 1;
    var q = d * (k - 1) - g.p[a][0], qh = d * (k - 1) - g.p[a][1] + g.output_padding[a];
    var out = Math.max(0, L + q + qh - keff + 1), taps = [];
    for (var o = 0; o < out; o++) {
      var t = [];
      for (var i = 0; i < k; i++) t.push(o - q + i * d);
      taps.push(t);
    }
    return {lo: -Math.max(q, 0), hi: L - 1 + Math.max(qh, 0), n: n, L: L, s: s, out: out, taps: taps};
  }

  function windowAxis(g, a) {  // the smallest input (up to 9) giving a few outputs
    var k = g.k[a], s = g.s[a], d = g.d[a], pl = g.p[a][0], ph = g.p[a][1], keff = d * (k - 1) + 1;
    function outputs(m) {
      var span = m + pl + ph - keff;
      return span < 0 ? 0 : (g.ceil_mode ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
    }
    var m = Math.max(1, keff - pl - ph);
    while (m < 9 && !(outputs(m) >= 3 || (m >= keff + s && outputs(m) >= 2))) m++;
    var out = outputs(m), taps = [];
    for (var o = 0; o < out; o++) {
      var t = [];
      for (var i = 0; i < k; i++) t.push(o * s - pl + i * d);
      taps.push(t);
    }
    return {lo: -pl, hi: m - 1 + ph, n: m, out: out, taps: taps};
  }

  var SINGLE = {lo: 0, hi: 0, n: 1, L: 1, s: 1, out: 1, taps: [[0]]};

  function windowPlan(g) {
    var plan = {axes: [], kind: g.op};
    for (var a = 0; a < 2; a++) {
      plan.axes.push(ONE_D && a === 0 ? SINGLE : g.op === "convT" ? convTAxis(g, a) : windowAxis(g, a));
    }
    return plan;
  }

  function upsamplePlan(g) {
    var plan = {axes: [], kind: "upsample"};
    for (var a = 0; a < 2; a++) {
      if (ONE_D && a === 0) { plan.axes.push({lo: 0, hi: 0, n: 1, out: 1, taps: [[[0, 1]]]}); continue; }
      var sc = g.scale[a], n = sc >= 3 ? 3 : 4, out = Math.max(1, Math.min(12, Math.floor(n * sc)));
      var taps = [];
      for (var o = 0; o < out; o++) {
        if (g.mode.indexOf("nearest") === 0) {
          var src = g.mode === "nearest-exact" ? Math.floor((o + 0.5) * n / out) : Math.floor(o * n / out);
          taps.push([[Math.min(src, n - 1), 1]]);
        } else {
          var x = g.align_corners ? (out > 1 ? o * (n - 1) / (out - 1) : 0) : Math.max(0, (o + 0.5) * n / out - 0.5);
          var i0 = Math.min(Math.floor(x), n - 1), i1 = Math.min(i0 + 1, n - 1), w = x - i0;
          taps.push(i1 === i0 || w === 0 ? [[i0, 1]] : [[i0, 1 - w], [i1, w]]);
        }
      }
      plan.axes.push({lo: 0, hi: n - 1, n: n, out: out, taps: taps});
    }
    return plan;
  }

  function animNote(g, plan) {
    var A = plan.axes;
    var size = function (key) { return A[0][key] + "×" + A[1][key]; };
    if (g.op === "upsample") {
      return g.mode + " upsampling ×" + g.scale.join("×") + (g.mode.indexOf("linear") >= 0 ?
        " (align_corners=" + g.align_corners + "; each output blends up to 2×2 inputs, shade = weight)" :
        " (each output copies one input)") + ": a " + size("n") + " input → " + size("out") + " output.";
    }
    var nums = "F=" + g.k.join("×") + " P=" + g.p.map(function (p) { return p[0] === p[1] ? p[0] : p.join("/"); }).join("×") +
               " S=" + g.s.join("×") + " dilation=" + g.d.join("×");
    if (g.op === "convT") {
      return "transposed convolution " + nums + (g.output_padding.some(function (v) { return v; }) ?
        " output_padding=" + g.output_padding.join("×") : "") + ": a " + size("n") + " input, " + (g.s[0] - 1) +
        "×" + (g.s[1] - 1) + " zeros inserted between inputs (white, dotted) and padded by d(F−1)−P, read by a stride-1 " +
        "kernel → " + size("out") + " output (o = (i−1)S − 2P + d(F−1) + output_padding + 1).";
    }
    var what = g.op === "conv" ? (g.groups > 1 ? "convolution (groups=" + g.groups + ")" : "convolution") :
      g.op === "maxpool" ? "max pooling" : "average pooling";
    return what + " " + nums + ": a " + size("n") + " input → " + size("out") + " output (o = ⌊(i + 2P − d(F−1) − 1)/S⌋ + 1" +
      (g.ceil_mode ? ", rounded up: ceil_mode" : "") + ").";
  }

  function stopAnimation() {
    if (anim.timer) clearInterval(anim.timer);
    anim.timer = null;
    anim.plan = null;
    var cv = $("anim");
    cv.getContext("2d").clearRect(0, 0, cv.width, cv.height);
  }

  function startAnimation(row) {
    stopAnimation();
    var cv = $("anim"), ctx = cv.getContext("2d");
    ctx.clearRect(0, 0, cv.width, cv.height);
    var g = row.geo;
    if (!g) {
      anim.plan = null;
      $("anim-note").textContent = row.type + " has no window to animate: " + (row.rf ?
        "each output reads its input at the same position (or a whole vector)." : "it works on vectors.");
      return;
    }
    anim.plan = g.op === "upsample" ? upsamplePlan(g) : windowPlan(g);
    anim.plan.geo = g;
    anim.frame = 0;
    $("anim-note").textContent = animNote(g, anim.plan);
    drawFrame();
    if (anim.playing) anim.timer = setInterval(nextFrame, 650);
  }

  function frames() { var A = anim.plan.axes; return Math.max(1, A[0].out * A[1].out); }
  function nextFrame() { if (anim.plan) { anim.frame = (anim.frame + 1) % frames(); drawFrame(); } }

  function drawFrame() {
    var plan = anim.plan, A = plan.axes, cv = $("anim"), ctx = cv.getContext("2d");
    var inRows = A[0].hi - A[0].lo + 1, inCols = A[1].hi - A[1].lo + 1;
    var cell = Math.max(4, Math.min(22, Math.floor((cv.width - 30) / (inCols + A[1].out)),
                                    Math.floor((cv.height - 20) / Math.max(inRows, A[0].out))));
    var ix = 8, iy = 10, gx = ix + inCols * cell + 16, gy = iy;
    ctx.clearRect(0, 0, cv.width, cv.height);
    var oi = Math.floor(anim.frame / A[1].out), oj = anim.frame % A[1].out;
    var tapsR = A[0].taps[oi] || [], tapsC = A[1].taps[oj] || [];
    var weight = {};
    function key(r, c) { return r + "," + c; }
    if (plan.kind === "upsample") {
      tapsR.forEach(function (tr) { tapsC.forEach(function (tc) { weight[key(tr[0], tc[0])] = tr[1] * tc[1]; }); });
    } else {
      tapsR.forEach(function (r) { tapsC.forEach(function (c) { weight[key(r, c)] = 1; }); });
    }
    for (var r = A[0].lo; r <= A[0].hi; r++) {
      for (var c = A[1].lo; c <= A[1].hi; c++) {
        var x = ix + (c - A[1].lo) * cell, y = iy + (r - A[0].lo) * cell, kind = cellKind(plan, r, c);
        ctx.fillStyle = kind === "in" ? "#9ecae1" : "#ffffff";
        ctx.fillRect(x, y, cell - 1, cell - 1);
        ctx.strokeStyle = kind === "in" ? "#3182bd" : "#bdbdbd";
        ctx.setLineDash(kind === "pad" ? [2, 2] : []);
        ctx.strokeRect(x + 0.5, y + 0.5, cell - 2, cell - 2);
        if (kind === "zero") { ctx.fillStyle = "#bdbdbd"; ctx.fillRect(x + cell / 2 - 1, y + cell / 2 - 1, 2, 2); }
        var w = weight[key(r, c)];
        if (w) {
          ctx.fillStyle = "rgba(8, 48, 107, " + (0.25 + 0.5 * w).toFixed(3) + ")";
          ctx.fillRect(x, y, cell - 1, cell - 1);
        }
      }
    }
    ctx.setLineDash([]);
    for (var a = 0; a < A[0].out; a++) {
      for (var b = 0; b < A[1].out; b++) {
        var done = a * A[1].out + b <= anim.frame, now = a === oi && b === oj;
        ctx.fillStyle = now ? "#31a354" : done ? "#a1d99b" : "#ffffff";
        ctx.fillRect(gx + b * cell, gy + a * cell, cell - 1, cell - 1);
        ctx.strokeStyle = "#31a354";
        ctx.strokeRect(gx + b * cell + 0.5, gy + a * cell + 0.5, cell - 2, cell - 2);
      }
    }
    ctx.fillStyle = "#57606a";
    ctx.font = "11px sans-serif";
    ctx.fillText("input" + (plan.kind === "convT" ? " (zero-inserted, padded)" : plan.kind === "upsample" ? "" : " (padded)"),
                 ix, cv.height - 4);
    ctx.fillText("output", gx, cv.height - 4);
  }

  function cellKind(plan, r, c) {
    var A = plan.axes;
    if (plan.kind === "convT") {
      var inside = function (x, ax) { return x >= 0 && x < ax.L; };
      if (!inside(r, A[0]) || !inside(c, A[1])) return "pad";
      return r % A[0].s === 0 && c % A[1].s === 0 ? "in" : "zero";
    }
    return r >= 0 && r < A[0].n && c >= 0 && c < A[1].n ? "in" : "pad";
  }

  $("anim-play").addEventListener("click", function () {
    anim.playing = !anim.playing;
    this.textContent = anim.playing ? "pause" : "play";
    if (anim.timer) { clearInterval(anim.timer); anim.timer = null; }
    if (anim.playing && anim.plan) anim.timer = setInterval(nextFrame, 650);
  });
  $("anim-step").addEventListener("click", function () { nextFrame(); });

  // ---- roofline (with a profile) --------------------------------------------------------------
  function drawRoof(row) {
    var P = D.profile;
    if (!P) return;
    $("roof-box").hidden = false;
    var cv = $("roof"), ctx = cv.getContext("2d"), pts = ROWS.filter(function (r) { return r.prof && r.prof.intensity > 0; });
    ctx.clearRect(0, 0, cv.width, cv.height);
    if (!pts.length) return;
    var lx0 = Math.log10(Math.min.apply(null, pts.map(function (r) { return r.prof.intensity; }))) - 0.3;
    var lx1 = Math.log10(Math.max.apply(null, pts.map(function (r) { return r.prof.intensity; }))) + 0.3;
    var ly1 = Math.log10(P.peak_flops) + 0.3;
    var ly0 = Math.min(ly1 - 3, Math.log10(Math.max(1, Math.min.apply(null, pts.map(function (r) {
      return Math.max(1, r.prof.achieved_flops); })))) - 0.2);
    function X(v) { return 30 + (cv.width - 40) * (Math.log10(v) - lx0) / (lx1 - lx0); }
    function Y(v) { return cv.height - 20 - (cv.height - 30) * (Math.log10(v) - ly0) / (ly1 - ly0); }
    ctx.strokeStyle = "#57606a";
    ctx.beginPath();
    for (var t = 0; t <= 60; t++) {
      var xi = Math.pow(10, lx0 + (lx1 - lx0) * t / 60), roof = Math.min(P.peak_flops, xi * P.peak_flops / P.ridge);
      if (t === 0) ctx.moveTo(X(xi), Y(roof)); else ctx.lineTo(X(xi), Y(roof));
    }
    ctx.stroke();
    pts.forEach(function (r) {
      ctx.fillStyle = r === row ? "#d1242f" : "rgba(87, 96, 106, 0.35)";
      var rad = r === row ? 4 : 2;
      ctx.beginPath(); ctx.arc(X(r.prof.intensity), Y(Math.max(1, r.prof.achieved_flops)), rad, 0, 7); ctx.fill();
    });
    ctx.fillStyle = "#57606a";
    ctx.font = "11px sans-serif";
    ctx.fillText("FLOP/byte (log) →", cv.width - 110, cv.height - 5);
    ctx.fillText("FLOP/s (log)", 4, 12);
    $("roof-note").textContent = !row ? "Each dot is a unit; select one to mark it." : row.prof ? row.path + ": " + row.prof.intensity.toFixed(2) + " FLOP/byte, " +
      (100 * row.prof.share).toFixed(1) + "% of the attainable " + (row.prof.attainable_flops / 1e9).toFixed(1) +
      " GFLOP/s (" + P.method + " timing)." : row.path + " was not profiled.";
  }

  // ---- start ----------------------------------------------------------------------------------
  header();
  var root = groupNode(D.tree);
  $("tree").appendChild(root);
  root.setOpen(true);
  window.addEventListener("resize", redrawEdges);
  drawOverlay();
  $("anim-note").textContent = "Select a convolution, pooling, transposed convolution or upsampling unit.";
  window.cnnlabExplore = {data: D, select: select, scriptStartMs: scriptStartMs, readyMs: performance.now()};
  document.body.dataset.ready = "1";
})();
