const D = JSON.parse(document.getElementById('data').textContent);
let shown = 200, rows = [];
const $ = (id) => document.getElementById(id);
function esc(s){return String(s ?? '').replace(/[&<>"]/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));}
function marked(x){
  if (x.text == null) return esc(x.subj) + ' … ' + esc(x.obj);
  const spans = [[x.subj_span, 'subj'], [x.obj_span, 'obj']].filter(s => s[0]).sort((a, b) => a[0][0] - b[0][0]);
  let out = '', at = 0;
  for (const [[s, e], cls] of spans) { if (s < at) continue; out += esc(x.text.slice(at, s)) + '<span class="' + cls + '">' + esc(x.text.slice(s, e)) + '</span>'; at = e; }
  return out + esc(x.text.slice(at));
}
function matches(x){
  const f = {errors: $('errors').checked, relation: $('relation').value, min: parseFloat($('confidence').value), q: $('q').value.toLowerCase(),
             gold: $('cell').dataset.gold, pred: $('cell').dataset.pred};
  if (f.errors && x.correct) return false;
  if (f.relation && x.gold !== f.relation && x.prediction !== f.relation) return false;
  if ((x.confidence ?? 0) < f.min) return false;
  if (f.q && !(x.id + ' ' + (x.text || '') + ' ' + x.subj + ' ' + x.obj).toLowerCase().includes(f.q)) return false;
  if (f.gold !== undefined && (x.gold ?? '') !== f.gold) return false;
  if (f.pred !== undefined && (x.prediction ?? '') !== f.pred) return false;
  return true;
}
function option(x, letter){
  const p = x.probabilities[letter] ?? 0, relation = x.options[letter];
  const mark = (relation === x.prediction ? ' ◀ predicted' : '') + (relation === x.gold ? ' ✔ gold' : '');
  return '<div><span class="bar" style="width:' + Math.round(200 * p) + 'px"></span>' + esc(letter) + '. ' + esc(relation) + ' ' + (100 * p).toFixed(1) + '%' + mark + '</div>';
}
function card(x){
  const opts = Object.keys(x.options || {}).map(l => option(x, l)).join('');
  const kind = x.error ? 'wrong' : (x.gold == null ? '' : (x.correct ? 'right' : 'wrong'));
  return '<div class="ex ' + kind + '" data-id="' + esc(x.id) + '"><div class="meta">' + esc(x.id) + ' · gold <b>' + esc(x.gold ?? '–') + '</b> · predicted <b>' +
    esc(x.prediction ?? '–') + '</b>' + (x.confidence != null ? ' · confidence ' + (100 * x.confidence).toFixed(1) + '%' : '') +
    (x.error ? ' · <span class="warn">' + esc(x.error) + '</span>' : '') + '</div><div>' + marked(x) + '</div>' + opts + '</div>';
}
function render(){
  rows = D.examples.filter(matches);
  $('count').textContent = rows.length + ' of ' + D.examples.length + ' shown';
  $('list').innerHTML = rows.slice(0, shown).map(card).join('');
  $('more').style.display = rows.length > shown ? '' : 'none';
}
function cell(gold, pred){ const c = $('cell'); c.dataset.gold = gold; c.dataset.pred = pred; c.textContent = 'cell: gold ' + gold + ' / predicted ' + pred + ' ✕'; c.style.display = ''; shown = 200; render(); }
function init(){
  const relations = [...new Set(D.examples.flatMap(x => [x.gold, x.prediction]).filter(r => r != null))].sort();
  $('relation').innerHTML = '<option value="">any relation</option>' + relations.map(r => '<option>' + esc(r) + '</option>').join('');
  const wanted = new URLSearchParams(location.hash.slice(1));  // #errors&relation=...&min=...&q=...
  $('errors').checked = wanted.has('errors');
  if (wanted.get('relation')) $('relation').value = wanted.get('relation');
  if (wanted.get('min')) $('confidence').value = wanted.get('min');
  if (wanted.get('q')) $('q').value = wanted.get('q');
  const remember = () => {
    const p = new URLSearchParams();
    if ($('errors').checked) p.set('errors', '');
    if ($('relation').value) p.set('relation', $('relation').value);
    if (parseFloat($('confidence').value) > 0) p.set('min', $('confidence').value);
    if ($('q').value) p.set('q', $('q').value);
    history.replaceState(null, '', '#' + p.toString().replace('errors=', 'errors'));
  };
  for (const id of ['errors', 'relation', 'confidence', 'q']) $(id).addEventListener('input', () => { shown = 200; remember(); render(); });
  $('more').onclick = () => { shown += 200; render(); };
  $('cell').onclick = () => { const c = $('cell'); delete c.dataset.gold; delete c.dataset.pred; c.style.display = 'none'; render(); };
  const labels = D.labels;
  if (labels.length) {
    let t = '<tr><th>gold \\ predicted</th>' + labels.map(l => '<th class="rot">' + esc(l) + '</th>').join('') + '</tr>';
    for (const g of labels) {
      t += '<tr><th>' + esc(g) + '</th>' + labels.map(p => { const n = (D.matrix[g] || {})[p] || 0;
        return n ? '<td class="hit' + (g === p ? ' diag' : '') + '" data-gold="' + esc(g) + '" data-pred="' + esc(p) + '">' + n + '</td>' : '<td></td>'; }).join('') + '</tr>';
    }
    $('matrix').innerHTML = t;
    $('matrix').addEventListener('click', e => { const td = e.target.closest('td.hit'); if (td) cell(td.dataset.gold, td.dataset.pred); });
  }
  render();
}
init();
