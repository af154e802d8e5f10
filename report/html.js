/* heaptrail HTML report: draws every section from the JSON in #ht-data.
 * Strings from the trace only ever reach the page through textContent and
 * setAttribute, never as markup. When everything is drawn, <body> gets
 * data-rendered="1" (the headless browser test looks for it). */
(function () {
  'use strict';
  var D = JSON.parse(document.getElementById('ht-data').textContent);
  var NS = 'http://www.w3.org/2000/svg';
  var app = document.getElementById('app');
  var tip = document.getElementById('tip');
  app.textContent = '';

  function h(tag, text, parent, cls) {
    var e = document.createElement(tag);
    if (text !== null && text !== undefined) e.textContent = String(text);
    if (cls) e.className = cls;
    if (parent) parent.appendChild(e);
    return e;
  }
  function s(tag, attrs, parent, text) {
    var e = document.createElementNS(NS, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = String(text);
    if (parent) parent.appendChild(e);
    return e;
  }
  function num(n) {
    return n === null || n === undefined ? '' : Number(n).toLocaleString('en-US');
  }
  function bytes(n) {
    if (n === null || n === undefined) return '';
    var u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'], i = 0, v = Number(n);
    while (Math.abs(v) >= 1024 && i < u.length - 1) { v /= 1024; i++; }
    return (i ? v.toFixed(v < 10 ? 2 : 1) : String(v)) + ' ' + u[i];
  }
  function tipOn(node, text) {
    node.addEventListener('mousemove', function (ev) {
      tip.textContent = typeof text === 'function' ? text(ev) : text;
      tip.style.display = 'block';
      tip.style.left = (ev.pageX + 14) + 'px';
      tip.style.top = (ev.pageY + 14) + 'px';
    });
    node.addEventListener('mouseleave', function () { tip.style.display = 'none'; });
  }
  function sect(title, id) {
    var e = h('section', null, app);
    e.id = id;
    h('h2', title, e);
    return e;
  }

  /* ---- header ---- */
  var run = D.run && D.run[0];
  var st = D.stats && D.stats[0];
  h('h1', 'heaptrail report', app);
  if (run) {
    var end = run[4] + (run[5] !== null ? ' ' + run[5] : run[6] !== null ? ' by signal ' + run[6] : '');
    h('div', 'run ' + run[0] + ': ' + (run[2] || run[1] || '?') + '  (pid ' + run[3] + ', ' + end +
      (run[7] ? ', complete' : ', INCOMPLETE') + ')', app, 'sub');
  }
  var cards = h('div', null, app, 'cards');
  function card(label, value, bad) {
    var c = h('div', null, cards, 'card' + (bad ? ' bad' : ''));
    h('b', value, c);
    h('span', label, c);
  }
  if (st) {
    card('events', num(st[0]));
    card('allocations', num(st[1]));
    card('frees', num(st[3]));
    card('peak live heap', bytes(st[5]));
    card('live at exit', bytes(st[9]) + ' in ' + num(st[8]) + ' blocks');
  }
  var LS = {};
  (D.leak_summary || []).forEach(function (r) { LS[r[0]] = r; });
  ['definite', 'indirect', 'cycle', 'reachable', 'suppressed'].forEach(function (k) {
    if (LS[k]) card(k === 'reachable' ? 'still reachable' : k === 'cycle' ? 'lost in cycles' :
      k === 'suppressed' ? 'suppressed leaks' : k + 'ly lost',
      bytes(LS[k][2]) + ' in ' + num(LS[k][1]) + ' blocks', k !== 'reachable' && k !== 'suppressed');
  });
  if (D.errors && D.errors.length) {
    var ne = 0;
    D.errors.forEach(function (r) { if (!r[5]) ne += r[1]; });
    if (ne) card('errors', num(ne), true);
  }

  /* ---- line charts ---- */
  function lineChart(parent, title, xs, series, opt) {
    var W = opt.width || 1040, H = 240, L = 78, R = 16, T = 22, B = 34;
    var svg = s('svg', {width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': title,
      'class': 'plot'}, parent);
    s('text', {x: L, y: 14, 'font-weight': 'bold'}, svg, title);
    var x0 = xs[0], x1 = xs[xs.length - 1];
    if (x1 === x0) x1 = x0 + 1;
    var ymax = opt.ymax || 0;
    series.forEach(function (se) { se.ys.forEach(function (y) { if (y > ymax) ymax = y; }); });
    if (!ymax) ymax = 1;
    function X(v) { return L + (v - x0) / (x1 - x0) * (W - L - R); }
    function Y(v) { return T + (1 - v / ymax) * (H - T - B); }
    var ax = s('g', {'class': 'axis'}, svg);
    s('line', {x1: L, y1: H - B, x2: W - R, y2: H - B}, ax);
    s('line', {x1: L, y1: T, x2: L, y2: H - B}, ax);
    for (var i = 0; i <= 4; i++) {
      var yv = ymax * i / 4, xv = x0 + (x1 - x0) * i / 4;
      s('line', {x1: L - 4, y1: Y(yv), x2: W - R, y2: Y(yv), stroke: '#eceff3'}, ax);
      s('text', {x: L - 6, y: Y(yv) + 4, 'text-anchor': 'end'}, ax, opt.fmt(yv));
      s('text', {x: X(xv), y: H - B + 16, 'text-anchor': i === 4 ? 'end' : i ? 'middle' : 'start'}, ax,
        num(Math.round(xv)));
    }
    s('text', {x: W - R, y: H - 4, 'text-anchor': 'end'}, ax, 'event seq');
    series.forEach(function (se) {
      var d = '';
      for (var j = 0; j < xs.length; j++)
        d += (j ? 'L' : 'M') + X(xs[j]).toFixed(1) + ' ' + Y(se.ys[j]).toFixed(1);
      s('path', {d: d, fill: 'none', stroke: se.color, 'stroke-width': 1.8, 'class': 'series'}, svg);
    });
    if (series.length > 1) {
      series.forEach(function (se, k) {
        s('rect', {x: L + 10 + k * 170, y: T + 2, width: 10, height: 10, fill: se.color}, svg);
        s('text', {x: L + 24 + k * 170, y: T + 11}, svg, se.name);
      });
    }
    if (opt.mark) {
      var m = opt.mark;
      s('line', {x1: X(m.x), y1: T, x2: X(m.x), y2: H - B, stroke: '#b3261e', 'stroke-dasharray': '4 3'}, svg);
      s('circle', {cx: X(m.x), cy: Y(m.y), r: 5, fill: '#b3261e', 'class': 'peak'}, svg);
      var right = X(m.x) > W - 220;
      s('text', {x: X(m.x) + (right ? -8 : 8), y: Math.max(T + 10, Y(m.y) - 6),
        'text-anchor': right ? 'end' : 'start', fill: '#b3261e'}, svg, m.label);
    }
    var cur = s('line', {x1: 0, y1: T, x2: 0, y2: H - B, stroke: '#39424e', visibility: 'hidden'}, svg);
    var over = s('rect', {x: L, y: T, width: W - L - R, height: H - T - B, fill: 'transparent'}, svg);
    tipOn(over, function (ev) {
      var box = svg.getBoundingClientRect();
      var vx = x0 + (ev.clientX - box.left - L) / (W - L - R) * (x1 - x0);
      var lo = 0, hi = xs.length - 1;
      while (lo < hi) { var mid = (lo + hi) >> 1; if (xs[mid] < vx) lo = mid + 1; else hi = mid; }
      if (lo > 0 && vx - xs[lo - 1] < xs[lo] - vx) lo--;
      cur.setAttribute('x1', X(xs[lo])); cur.setAttribute('x2', X(xs[lo]));
      cur.setAttribute('visibility', 'visible');
      return 'event ' + num(xs[lo]) + series.map(function (se) {
        return '\n' + se.name + ': ' + opt.fmt(se.ys[lo]);
      }).join('');
    });
    over.addEventListener('mouseleave', function () { cur.setAttribute('visibility', 'hidden'); });
    return svg;
  }

  var snaps = D.snaps || [];
  if (snaps.length) {
    var sec = sect('Live heap over time', 'sec-live');
    var pts = snaps.map(function (r) { return [r[0], r[2]]; });
    if (st && st[7] !== null) {
      pts.push([st[7], st[5]]);
      pts.sort(function (a, b) { return a[0] - b[0]; });
    }
    lineChart(sec, 'live heap bytes (' + snaps.length + ' snapshots)', pts.map(function (p) { return p[0]; }),
      [{name: 'live bytes', color: '#1f6feb', ys: pts.map(function (p) { return p[1]; })}],
      {fmt: bytes, mark: st && st[7] !== null ? {x: st[7], y: st[5],
        label: 'peak ' + bytes(st[5]) + ' at event ' + num(st[7])} : null});
    h('div', 'Replay snapshots of the live heap; the marked point is the exact peak from run_stats.', sec, 'note');

    var sec2 = sect('pymalloc utilisation and arenas', 'sec-util');
    var xs = snaps.map(function (r) { return r[0]; });
    var row = h('div', null, sec2, 'row');
    lineChart(row, 'utilisation (bytes in blocks / arena bytes)', xs,
      [{name: 'utilisation', color: '#2f7d32', ys: snaps.map(function (r) { return r[5] || 0; })}],
      {width: 510, ymax: 1, fmt: function (v) { return (100 * v).toFixed(0) + ' %'; }});
    lineChart(row, 'arenas and used pools', xs,
      [{name: 'arenas', color: '#7b3fb8', ys: snaps.map(function (r) { return r[6] || 0; })},
       {name: 'used pools / 64', color: '#c4621a', ys: snaps.map(function (r) { return (r[7] || 0) / 64; })}],
      {width: 510, fmt: function (v) { return (Math.round(v * 10) / 10).toString(); }});
  }

  /* ---- arena / pool occupancy map ---- */
  if (D.pool_map && D.pool_map.length) {
    var sec3 = sect('Arena / pool occupancy', 'sec-pools');
    h('div', 'One row per pymalloc arena, one cell per 16 KiB pool. Hue: size class; darker: fuller. ' +
      'Grey: free pool. An arena is released only when all its pools are free.', sec3, 'note');
    var maps = {};
    D.pool_map.forEach(function (r) { (maps[r[0]] = maps[r[0]] || []).push(r); });
    var row3 = h('div', null, sec3, 'row');
    ['peak', 'exit'].forEach(function (kind) {
      var rows = maps[kind];
      if (!rows) return;
      var arenas = [], idx = {};
      rows.forEach(function (r) { if (!(r[1] in idx)) { idx[r[1]] = arenas.length; arenas.push(r[1]); } });
      var C = 10, G = 1, L = 44, W = L + 64 * (C + G) + 8, H = 24 + arenas.length * (C + G) + 4;
      var div = h('div', null, row3);
      var svg = s('svg', {width: W, height: H, 'class': 'poolmap', 'data-kind': kind}, div);
      var used = rows.filter(function (r) { return r[3] >= 0; }).length;
      s('text', {x: 0, y: 14, 'font-weight': 'bold'}, svg,
        'at ' + kind + ': ' + arenas.length + ' arenas, ' + used + ' pools in use');
      arenas.forEach(function (a, i) {
        s('text', {x: L - 4, y: 24 + i * (C + G) + C, 'text-anchor': 'end', 'font-size': 8}, svg, a);
      });
      rows.forEach(function (r) {
        var fill = '#e3e6ea', sz = (r[3] + 1) * 16;
        if (r[3] >= 0) {
          var f = r[5] ? r[4] / r[5] : 0;
          fill = 'hsl(' + ((r[3] * 47) % 360) + ',65%,' + (72 - 42 * f).toFixed(0) + '%)';
        }
        var c = s('rect', {x: L + r[2] * (C + G), y: 24 + idx[r[1]] * (C + G), width: C, height: C, fill: fill}, svg);
        tipOn(c, 'arena ' + r[1] + ' pool ' + r[2] + (r[3] >= 0 ? '\nsize class ' + r[3] + ' (' + sz +
          ' bytes): ' + r[4] + ' / ' + r[5] + ' blocks used' : '\nfree pool'));
      });
    });
  }

  /* ---- icicle graph of allocated bytes by file / function / line ---- */
  if (D.sites && D.sites.length) {
    var sec4 = sect('Allocated bytes by site', 'sec-flame');
    h('div', 'Icicle graph: file \u2192 function \u2192 line, width = bytes allocated over the run. ' +
      'Click a box to zoom, click the top bar to zoom out.', sec4, 'note');
    var root = {name: 'all allocations', v: 0, kids: {}, n: 0};
    D.sites.forEach(function (r) {
      var path = [r[0], r[1], r[0].replace(/^.*\//, '') + ':' + r[2]], node = root;
      root.v += r[3]; root.n += r[4];
      path.forEach(function (p) {
        node = node.kids[p] = node.kids[p] || {name: p, v: 0, kids: {}, n: 0, parent: node};
        node.v += r[3]; node.n += r[4];
      });
    });
    var FW = 1040, RH = 22;
    var fsvg = s('svg', {width: FW, height: 4 * RH + 2, 'class': 'flame'}, sec4);
    var drawFlame = function (top) {
      while (fsvg.firstChild) fsvg.removeChild(fsvg.firstChild);
      var depth0 = 0;
      for (var q = top; q.parent; q = q.parent) depth0++;
      function box(node, x, w, d) {
        if (w < 0.5) return;
        var colors = ['#8a94a3', '#e8833a', '#e3a33a', '#d9c04a'];
        var g = s('g', {'class': 'fbox'}, fsvg);
        var rc = s('rect', {x: x, y: d * RH, width: Math.max(w - 1, 0.5), height: RH - 1,
          fill: colors[Math.min(d + depth0, 3)], rx: 2}, g);
        var label = node.name, maxc = Math.floor((w - 6) / 6.5);
        if (maxc > 2) s('text', {x: x + 4, y: d * RH + 15}, g,
          label.length > maxc ? label.slice(0, maxc - 1) + '\u2026' : label);
        tipOn(g, node.name + '\n' + bytes(node.v) + ' in ' + num(node.n) + ' allocations (' +
          (100 * node.v / root.v).toFixed(1) + ' %)');
        g.addEventListener('click', function () { drawFlame(node === top && top.parent ? top.parent : node); });
        rc.style.cursor = 'pointer';
        var kids = Object.keys(node.kids).map(function (k) { return node.kids[k]; })
          .sort(function (a, b) { return b.v - a.v; });
        var cx = x;
        kids.forEach(function (k) {
          var kw = node.v ? w * k.v / node.v : 0;
          box(k, cx, kw, d + 1);
          cx += kw;
        });
      }
      box(top, 0, FW, 0);
    };
    drawFlame(root);
  }

  /* ---- sortable tables ---- */
  function table(parent, cols, rows, onRow) {
    var wrap = h('div', null, parent, 'scroll');
    var t = h('table', null, wrap);
    var thead = h('thead', null, t), tr = h('tr', null, thead);
    var tbody = h('tbody', null, t);
    var dir = {};
    function fill() {
      while (tbody.firstChild) tbody.removeChild(tbody.firstChild);
      rows.forEach(function (r) {
        var row = h('tr', null, tbody);
        cols.forEach(function (c) {
          var v = r[c.i];
          var td = h('td', c.fmt ? c.fmt(v, r) : v, row, (c.num ? 'num' : '') + (c.cls ? ' ' + c.cls(v) : ''));
          if (c.title) td.title = c.title(v, r);
        });
        if (onRow) {
          row.style.cursor = 'pointer';
          row.addEventListener('click', function () {
            Array.prototype.forEach.call(tbody.children, function (x) { x.className = ''; });
            row.className = 'sel';
            onRow(r);
          });
        }
      });
    }
    cols.forEach(function (c, k) {
      var th = h('th', c.name, tr, c.num ? 'num' : '');
      th.addEventListener('click', function () {
        var d = dir[k] = dir[k] === 1 ? -1 : 1;
        Array.prototype.forEach.call(tr.children, function (x) { x.removeAttribute('aria-sort'); });
        th.setAttribute('aria-sort', d > 0 ? 'ascending' : 'descending');
        rows.sort(function (a, b) {
          var x = a[c.i], y = b[c.i];
          if (x === y) return 0;
          if (x === null) return 1;
          if (y === null) return -1;
          return (c.num ? x - y : String(x).localeCompare(String(y))) * d;
        });
        fill();
      });
    });
    fill();
    return t;
  }
  var kindCls = function (v) { return 'kind-' + String(v).replace(/[^a-z_]/g, ''); };

  if (D.leaks && D.leaks.length) {
    var sec5 = sect('Leaks (blocks live at exit, by allocation site)', 'sec-leaks');
    table(sec5, [
      {name: 'kind', i: 0, cls: kindCls},
      {name: 'blocks', i: 1, num: true, fmt: num},
      {name: 'bytes', i: 2, num: true, fmt: num},
      {name: 'allocated at', i: 3},
      {name: 'last reference dropped by', i: 4},
      {name: 'at', i: 5},
      {name: 'first alloc seq', i: 6, num: true, fmt: num},
      {name: 'suppressed', i: 7, fmt: function (v) { return v ? 'suppressed' : ''; }}
    ], D.leaks.slice());
    h('div', D.leaks.length + ' groups (kind, site, cause); click a header to sort.', sec5, 'note');
  }

  if (D.errors && D.errors.length) {
    var sec6 = sect('Errors', 'sec-errors');
    table(sec6, [
      {name: 'kind', i: 0},
      {name: 'count', i: 1, num: true, fmt: num},
      {name: 'site', i: 2},
      {name: 'first seq', i: 3, num: true, fmt: num},
      {name: 'first address', i: 4},
      {name: 'suppressed', i: 5, fmt: function (v) { return v ? 'suppressed' : ''; }}
    ], D.errors.slice());
  }

  /* ---- cycles: table + graph ---- */
  if (D.cycles && D.cycles.length) {
    var sec7 = sect('Reference cycles', 'sec-cycles');
    var gdiv = h('div', null, null);
    var members = {}, edges = {};
    (D.cycle_members || []).forEach(function (r) { (members[r[0]] = members[r[0]] || []).push(r); });
    (D.cycle_edges || []).forEach(function (r) { (edges[r[0]] = edges[r[0]] || []).push(r); });
    var drawCycle = function (id) {
      while (gdiv.firstChild) gdiv.removeChild(gdiv.firstChild);
      var ms = (members[id] || []).slice(0, 40);
      if (!ms.length) { h('div', 'cycle ' + id + ': members not loaded (only the 20 largest cycles are drawn)', gdiv, 'note'); return; }
      var R = Math.min(150, 40 + ms.length * 14), W = 1040, H = 2 * R + 110, cx = W / 2, cy = H / 2 + 8;
      var svg = s('svg', {width: W, height: H, 'class': 'cyclegraph', 'data-cycle': id}, gdiv);
      s('text', {x: 4, y: 14, 'font-weight': 'bold'}, svg, 'cycle ' + id + ': ' + (members[id] || []).length +
        ' objects' + ((members[id] || []).length > ms.length ? ' (first 40 drawn)' : ''));
      var defs = s('defs', {}, svg);
      var mk = s('marker', {id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 7,
        markerHeight: 7, orient: 'auto-start-reverse'}, defs);
      s('path', {d: 'M0 0L10 5L0 10z', fill: '#7b3fb8'}, mk);
      var pos = {};
      ms.forEach(function (m, i) {
        var a = -Math.PI / 2 + 2 * Math.PI * i / ms.length;
        pos[m[1]] = [cx + R * Math.cos(a), cy + R * Math.sin(a), a];
      });
      var NR = 16;
      (edges[id] || []).forEach(function (e) {
        var p = pos[e[1]], q = pos[e[3]];
        if (!p || !q) return;
        var path;
        if (e[1] === e[3]) {
          var ox = p[0] + Math.cos(p[2]) * NR, oy = p[1] + Math.sin(p[2]) * NR;
          path = s('path', {d: 'M' + (ox - 6) + ' ' + oy + ' a 14 14 0 1 1 12 0', fill: 'none'}, svg);
        } else {
          var dx = q[0] - p[0], dy = q[1] - p[1], len = Math.sqrt(dx * dx + dy * dy) || 1;
          var ux = dx / len, uy = dy / len;
          /* bend a little so that a<->b pairs do not overlap */
          var mx = (p[0] + q[0]) / 2 - uy * 18, my = (p[1] + q[1]) / 2 + ux * 18;
          path = s('path', {d: 'M' + (p[0] + ux * NR) + ' ' + (p[1] + uy * NR) + ' Q' + mx + ' ' + my + ' ' +
            (q[0] - ux * NR) + ' ' + (q[1] - uy * NR), fill: 'none'}, svg);
        }
        path.setAttribute('stroke', '#7b3fb8');
        path.setAttribute('stroke-width', '1.6');
        path.setAttribute('marker-end', 'url(#arrow)');
        path.setAttribute('class', 'edge');
        tipOn(path, e[1] + ' +' + e[2] + ' \u2192 ' + e[3] + '\nstored at ' + (e[4] || '?') + ' (event ' + num(e[5]) + ')');
      });
      ms.forEach(function (m) {
        var p = pos[m[1]];
        var g = s('g', {'class': 'node'}, svg);
        s('circle', {cx: p[0], cy: p[1], r: NR, fill: '#efe6fa', stroke: '#7b3fb8', 'stroke-width': 1.5}, g);
        s('text', {x: p[0], y: p[1] + 4, 'text-anchor': 'middle'}, g, m[2]);
        var lx = p[0] + Math.cos(p[2]) * (NR + 8), ly = p[1] + Math.sin(p[2]) * (NR + 8) + 4;
        s('text', {x: lx, y: ly, 'text-anchor': Math.cos(p[2]) < -0.2 ? 'end' : Math.cos(p[2]) > 0.2 ? 'start' : 'middle',
          'font-size': 10}, g, (m[3] || m[1]).replace(/^.*\//, ''));
        tipOn(g, m[1] + ': ' + m[2] + ' bytes\nallocated at ' + (m[3] || '?'));
      });
    };
    table(sec7, [
      {name: 'cycle', i: 0, num: true},
      {name: 'objects', i: 1, num: true, fmt: num},
      {name: 'bytes', i: 2, num: true, fmt: num},
      {name: 'suppressed', i: 3, fmt: function (v) { return v ? 'suppressed' : ''; }}
    ], D.cycles.slice(), function (r) { drawCycle(r[0]); });
    h('div', 'Click a cycle to draw it. Node label: size in bytes; arrow: a pointer stored in a field.', sec7, 'note');
    sec7.appendChild(gdiv);
    drawCycle(D.cycles[0][0]);
  }

  /* tables of newer replays, when the trace has them */
  var extra = function (key, title, note, cols) {
    if (!D[key] || !D[key].length) return;
    var e = sect(title, 'sec-' + key);
    if (note) h('div', note, e, 'note');
    table(e, cols, D[key].slice());
  };
  var site = {name: 'site', i: 0};
  extra('peak_sites', 'Allocation sites of the blocks live at the peak', null,
    [site, {name: 'blocks', i: 1, num: true, fmt: num}, {name: 'bytes', i: 2, num: true, fmt: num}]);
  extra('pinning', 'Sites pinning pymalloc pools and arenas at exit',
    'Blocks of these sites are the only or main reason a pool or arena cannot be released.',
    [site, {name: 'blocks', i: 1, num: true, fmt: num}, {name: 'pools', i: 2, num: true, fmt: num},
     {name: 'arenas', i: 3, num: true, fmt: num}]);
  extra('churn', 'Churn: sites that allocate and free the same size over and over',
    'Candidates for reusing a block or a free list.',
    [site, {name: 'size', i: 1, num: true, fmt: num}, {name: 'allocs', i: 2, num: true, fmt: num},
     {name: 'frees', i: 3, num: true, fmt: num}, {name: 'max live', i: 4, num: true, fmt: num},
     {name: 'short-lived', i: 5, num: true, fmt: num}]);
  extra('refcount_sites', 'Refcount sites whose objects ended unbalanced', null,
    [site, {name: 'increfs', i: 1, num: true, fmt: num}, {name: 'decrefs', i: 2, num: true, fmt: num}]);

  if (D.gc && D.gc.length) {
    var sec8 = sect('Modelled CPython GC collections', 'sec-gc');
    table(sec8, [
      {name: 'generation', i: 0, num: true},
      {name: 'collections', i: 1, num: true, fmt: num},
      {name: 'objects collected (upper bound)', i: 2, num: true, fmt: num}
    ], D.gc.slice());
  }
  if (!snaps.length && !(D.leaks && D.leaks.length))
    h('p', 'This run has no replay results: run "heaptrail replay" first.', app, 'note');
  document.body.setAttribute('data-rendered', '1');
})();
