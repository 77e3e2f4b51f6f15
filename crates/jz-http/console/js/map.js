// The map: drill city → district → street → community → grid, a choropleth of open or overdue
// cases or of goal attainment over the shown subdivisions, clustered case markers, and generated
// boundaries hatched with a dashed outline.

import { get, qs } from './api.js';
import { session, showError } from './app.js';
import { EMPTY, bbox, createMap, labelPoint, maplibregl, settle } from './mapkit.js';
import * as data from './data.js';
import { num, t } from './i18n.js';
import * as live from './live.js';
import { clear, h } from './ui.js';

const COLORS = ['#f7fbff', '#c6dbef', '#6baed6', '#2171b5', '#08306b'];
const SCORE_COLORS = ['#d73027', '#fc8d59', '#fee08b', '#91cf60', '#1a9850'];
const NO_DATA = '#d9d9d9';

export async function render(main, { params }) {
  const panel = h('aside.map-panel#map-panel');
  const container = h('div.map#map');
  main.append(h('div.map-layout', container, panel));
  const map = await createMap(container);
  const view = new MapView(map, panel, params);
  await view.start();
  return () => view.destroy();
}

class MapView {
  constructor(map, panel, params) {
    this.map = map;
    this.panel = panel;
    this.metric = params.metric || 'open';
    this.startAt = params.at;
    this.current = null; // the division shown: its view with geometry
    this.selectedGrid = null;
    this.children = EMPTY;
    this.cases = [];
    this.scores = new Map();
    this.labels = [];
    this.clusterMarkers = new Map();
    this.popup = null;
    this.generation = 0;
  }

  async start() {
    const map = this.map;
    map.addSource('context', { type: 'geojson', data: EMPTY });
    map.addSource('divisions', { type: 'geojson', data: EMPTY, promoteId: 'code' });
    map.addSource('cases', { type: 'geojson', data: EMPTY, cluster: true, clusterRadius: 40, clusterMaxZoom: 17 });
    map.addLayer({ id: 'div-fill', type: 'fill', source: 'divisions', paint: { 'fill-color': ['get', 'color'], 'fill-opacity': 0.75 } });
    map.addLayer({
      id: 'div-hatch',
      type: 'fill',
      source: 'divisions',
      filter: ['==', ['get', 'generated'], true],
      paint: { 'fill-pattern': 'hatch', 'fill-opacity': 0.6 },
    });
    map.addLayer({
      id: 'div-line',
      type: 'line',
      source: 'divisions',
      filter: ['!=', ['get', 'generated'], true],
      paint: { 'line-color': '#33415c', 'line-width': 1.2 },
    });
    map.addLayer({
      id: 'div-line-generated',
      type: 'line',
      source: 'divisions',
      filter: ['==', ['get', 'generated'], true],
      paint: { 'line-color': '#6a3d9a', 'line-width': 1.2, 'line-dasharray': [3, 2] },
    });
    map.addLayer({
      id: 'div-selected',
      type: 'line',
      source: 'divisions',
      filter: ['==', ['get', 'code'], ''],
      paint: { 'line-color': '#e6550d', 'line-width': 3 },
    });
    map.addLayer({ id: 'context-line', type: 'line', source: 'context', paint: { 'line-color': '#111', 'line-width': 2.5 } });
    map.addLayer({
      id: 'clusters',
      type: 'circle',
      source: 'cases',
      filter: ['has', 'point_count'],
      paint: {
        'circle-color': '#e6550d',
        'circle-opacity': 0.85,
        'circle-radius': ['step', ['get', 'point_count'], 14, 10, 18, 50, 24],
        'circle-stroke-color': '#fff',
        'circle-stroke-width': 2,
      },
    });
    map.addLayer({
      id: 'case-points',
      type: 'circle',
      source: 'cases',
      filter: ['!', ['has', 'point_count']],
      paint: {
        'circle-color': ['match', ['get', 'light'], 'red', '#d7301f', 'yellow', '#fdae61', '#1a9641'],
        'circle-radius': 7,
        'circle-stroke-color': '#fff',
        'circle-stroke-width': 2,
      },
    });

    map.on('click', 'div-fill', (event) => {
      if (map.queryRenderedFeatures(event.point, { layers: ['clusters', 'case-points'] }).length) return;
      const feature = event.features[0];
      if (!feature) return;
      const code = feature.properties.code;
      if (feature.properties.level === 'grid') this.selectGrid(code);
      else this.show(code);
    });
    map.on('click', 'clusters', async (event) => {
      const feature = event.features[0];
      const zoom = await map.getSource('cases').getClusterExpansionZoom(feature.properties.cluster_id);
      map.easeTo({ center: feature.geometry.coordinates, zoom });
    });
    map.on('click', 'case-points', (event) => this.casePopup(event.features[0]));
    for (const layer of ['div-fill', 'clusters', 'case-points']) {
      map.on('mouseenter', layer, () => (map.getCanvas().style.cursor = 'pointer'));
      map.on('mouseleave', layer, () => (map.getCanvas().style.cursor = ''));
    }
    map.on('idle', () => this.updateClusterMarkers());

    this.stopLive = live.onCase(() => this.refreshCasesSoon());
    const start = this.startAt || session.user.territory || (await data.rootCode());
    if (!start) {
      clear(this.panel, h('p.muted', t('legend_no_data')));
      return;
    }
    if (start.length === 15) {
      await this.show(start.slice(0, 12));
      await this.selectGrid(start);
    } else {
      await this.show(start);
    }
  }

  destroy() {
    this.stopLive?.();
    clearTimeout(this.refreshTimer);
    this.map.remove();
  }

  // Shows a division: its outline, its subdivisions coloured by the metric, its cases.
  async show(code) {
    const generation = ++this.generation;
    const map = this.map;
    map.getContainer().dataset.idle = 'false';
    this.selectedGrid = null;
    try {
      const current = await data.division(code, true);
      const childLevel = data.childLevel(current.level);
      const box = bbox(current.geometry);
      const camera = box ? map.cameraForBounds(box, { padding: 40 }) : null;
      const zoom = Math.min(22, Math.max(0, Math.ceil(camera?.zoom ?? 10)));
      let children = EMPTY;
      if (childLevel === 'grid' && box) {
        const grids = await get(`/layers/grid${qs({ bbox: box.flat().join(',') })}`);
        children = { type: 'FeatureCollection', features: grids.features.filter((f) => f.properties.community_code === code) };
      } else if (childLevel) {
        const layer = await layerAt(childLevel, zoom);
        children = { type: 'FeatureCollection', features: layer.features.filter((f) => f.properties.parent_code === code) };
      }
      const [cases, scores] = await Promise.all([this.loadCases(code), this.loadScores(code, childLevel)]);
      if (generation !== this.generation) return;
      this.current = current;
      this.childLevel = childLevel;
      this.children = children;
      this.cases = cases;
      this.scores = scores;
      map.getSource('context').setData(current.geometry ? { type: 'Feature', properties: {}, geometry: current.geometry } : EMPTY);
      map.setFilter('div-selected', ['==', ['get', 'code'], '']);
      this.paint();
      if (camera) map.jumpTo(camera);
      history.replaceState(null, '', `#/map${qs({ at: code, metric: this.metric })}`);
      await this.renderPanel();
      settle(map);
    } catch (error) {
      map.getContainer().dataset.idle = 'true';
      showError(error);
    }
  }

  async selectGrid(code) {
    const map = this.map;
    map.getContainer().dataset.idle = 'false';
    this.selectedGrid = code;
    map.setFilter('div-selected', ['==', ['get', 'code'], code]);
    history.replaceState(null, '', `#/map${qs({ at: code, metric: this.metric })}`);
    await this.renderPanel();
    settle(map);
  }

  async loadCases(code) {
    if (!['city_operator', 'district_operator', 'street_operator', 'dispatcher', 'handler', 'inspector', 'hotline_operator', 'auditor'].includes(session.user.role)) {
      return [];
    }
    const level = data.levelOf(code);
    const division = level === 'city' ? undefined : code;
    try {
      return await get(`/cases${qs({ division, state: data.OPEN_STATES.join(','), limit: 500 })}`);
    } catch {
      return [];
    }
  }

  async loadScores(code, childLevel) {
    if (!['district', 'street', 'community'].includes(childLevel)) return new Map();
    try {
      const ranking = await get(`/scorecards/ranking${qs({ level: childLevel, within: code })}`);
      return new Map(ranking.items.map((item) => [item.scope, item]));
    } catch {
      return new Map();
    }
  }

  refreshCasesSoon() {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(async () => {
      if (!this.current) return;
      this.cases = await this.loadCases(this.current.code);
      this.paint();
      await this.renderPanel();
    }, 300);
  }

  // The value of the metric for each shown subdivision, its colour, and the case markers.
  values() {
    const field = { district: 'district', street: 'street', community: 'community', grid: 'grid' }[this.childLevel];
    const counts = new Map();
    for (const c of this.cases) {
      const key = c.place?.[field];
      if (!key) continue;
      const entry = counts.get(key) || { open: 0, overdue: 0 };
      entry.open += 1;
      if (data.isOverdue(c)) entry.overdue += 1;
      counts.set(key, entry);
    }
    const values = new Map();
    for (const feature of this.children.features) {
      const code = feature.properties.code;
      let value = null;
      if (this.metric === 'score') {
        const score = this.scores.get(code)?.score;
        value = score === undefined ? null : score;
      } else {
        value = counts.get(code)?.[this.metric] ?? 0;
      }
      values.set(code, value);
    }
    return values;
  }

  paint() {
    const values = this.values();
    const numbers = [...values.values()].filter((v) => v !== null);
    const max = Math.max(1, ...numbers);
    this.scale = { max };
    const features = this.children.features.map((feature) => {
      const value = values.get(feature.properties.code);
      return { ...feature, properties: { ...feature.properties, value, color: this.colorOf(value, max) } };
    });
    this.map.getSource('divisions').setData({ type: 'FeatureCollection', features });
    const points = this.cases
      .filter((c) => Number.isFinite(c.place?.lon))
      .map((c) => ({
        type: 'Feature',
        properties: { id: c.id, state: c.state, light: c.light || 'none', description: c.description },
        geometry: { type: 'Point', coordinates: [c.place.lon, c.place.lat] },
      }));
    this.map.getSource('cases').setData({ type: 'FeatureCollection', features: points });
    this.renderLabels(features);
  }

  colorOf(value, max) {
    if (value === null || value === undefined) return NO_DATA;
    if (this.metric === 'score') {
      return SCORE_COLORS[Math.min(4, Math.floor(value / 20))];
    }
    if (value === 0) return COLORS[0];
    const index = countBounds(max).findIndex((bound) => value <= bound);
    return COLORS[index < 0 ? 4 : index + 1];
  }

  // Names of the shown subdivisions as HTML labels (no glyphs needed); grids are too many.
  renderLabels(features) {
    for (const marker of this.labels) marker.remove();
    this.labels = [];
    if (this.childLevel === 'grid') return;
    for (const feature of features) {
      const at = labelPoint(feature.geometry);
      if (!at) continue;
      const element = h(
        'div.map-label',
        feature.properties.name,
        feature.properties.generated ? h('span.generated-tag', t('generated_mark')) : null,
      );
      this.labels.push(new maplibregl.Marker({ element }).setLngLat(at).addTo(this.map));
    }
  }

  // Counts on the clusters, as HTML markers kept in step with the rendered clusters.
  updateClusterMarkers() {
    const seen = new Set();
    for (const feature of this.map.querySourceFeatures('cases')) {
      const p = feature.properties;
      if (!p.cluster) continue;
      seen.add(p.cluster_id);
      if (!this.clusterMarkers.has(p.cluster_id)) {
        const element = h('div.cluster-count', String(p.point_count));
        const marker = new maplibregl.Marker({ element }).setLngLat(feature.geometry.coordinates).addTo(this.map);
        this.clusterMarkers.set(p.cluster_id, marker);
      }
    }
    for (const [id, marker] of this.clusterMarkers) {
      if (!seen.has(id)) {
        marker.remove();
        this.clusterMarkers.delete(id);
      }
    }
  }

  casePopup(feature) {
    const p = feature.properties;
    this.popup?.remove();
    const content = h(
      'div.case-popup',
      h('b', p.id),
      h('div', t(`state_${p.state}`)),
      h('div.muted', p.description),
      h('a', { href: `#/cases/${p.id}` }, t('open_case')),
    );
    this.popup = new maplibregl.Popup({ closeButton: true, maxWidth: '260px' })
      .setLngLat(feature.geometry.coordinates)
      .setDOMContent(content)
      .addTo(this.map);
  }

  async renderPanel() {
    const current = this.current;
    const path = await data.pathTo(current.code);
    const territory = session.user.territory;
    const crumbs = path.map((d) => {
      const above = territory && !d.code.startsWith(territoryPrefix(territory)) && d.code !== territory;
      const label = `${d.name}`;
      return above
        ? h('span.crumb.disabled', { dataset: { level: d.level, code: d.code } }, label)
        : h('a.crumb', { href: '#', dataset: { level: d.level, code: d.code }, on: { click: (e) => { e.preventDefault(); this.show(d.code); } } }, label);
    });
    if (this.selectedGrid) crumbs.push(h('span.crumb.current', { dataset: { level: 'grid', code: this.selectedGrid } }, this.selectedGrid));
    else crumbs[crumbs.length - 1]?.classList.add('current');

    const metric = h(
      'select#map-metric',
      { on: { change: (e) => { this.metric = e.target.value; this.paint(); this.renderPanel(); settle(this.map); } } },
      ['open', 'overdue', 'score'].map((m) => h('option', { value: m, selected: m === this.metric }, t(`metric_${m}`))),
    );
    const values = this.values();
    const children = this.children.features
      .slice()
      .sort((a, b) => a.properties.code.localeCompare(b.properties.code))
      .map((f) => {
        const p = f.properties;
        const name = p.level === 'grid' ? p.code : p.name;
        return h(
          'li',
          { dataset: { code: p.code } },
          h('a', { href: '#', on: { click: (e) => { e.preventDefault(); p.level === 'grid' ? this.selectGrid(p.code) : this.show(p.code); } } }, name),
          p.generated ? h('span.generated-tag', t('generated_mark')) : null,
          h('span.value', num(values.get(p.code), 1)),
        );
      });
    const up = path.length > 1 && !(territory && current.code === territory)
      ? h('button.link#map-up', { type: 'button', on: { click: () => this.show(path[path.length - 2].code) } }, `↑ ${t('map_up')}`)
      : null;

    clear(
      this.panel,
      h('nav.breadcrumb#map-breadcrumb', crumbs),
      h('h2#map-title', this.selectedGrid ? t('grid_selected', { code: this.selectedGrid }) : current.name,
        current.generated && !this.selectedGrid ? h('span.generated-tag', t('generated_mark')) : null),
      up,
      this.selectedGrid ? this.gridPanel() : null,
      h('label.inline', t('map_metric'), metric),
      this.legend(),
      h('h3', `${t('map_children')} · ${t(`level_${this.childLevel || 'grid'}`)}`),
      h('ul.children#map-children', children),
    );
  }

  gridPanel() {
    const cases = this.cases.filter((c) => c.place?.grid === this.selectedGrid);
    return h(
      'section.grid-info#grid-info',
      h('h3', t('grid_cases')),
      cases.length
        ? h('ul.case-links', cases.map((c) => h('li', h('a', { href: `#/cases/${c.id}`, dataset: { case: c.id } }, `${c.id} · ${t(`state_${c.state}`)}`), h('div.muted', c.description))))
        : h('p.muted', t('no_cases')),
    );
  }

  legend() {
    let classes;
    if (this.metric === 'score') {
      classes = SCORE_COLORS.map((color, i) => [color, `${i * 20}–${(i + 1) * 20}`]);
    } else {
      // One entry per distinct upper bound, in the colour `colorOf` gives values up to it.
      const bounds = countBounds(this.scale?.max ?? 1);
      classes = [[COLORS[0], '0']];
      bounds.forEach((bound, i) => {
        if (bounds.indexOf(bound) === i) classes.push([COLORS[i + 1], `≤ ${num(bound, 0)}`]);
      });
    }
    return h(
      'section.legend#map-legend',
      h('h3', t('map_legend')),
      h('ul', classes.map(([color, label]) => h('li', h('span.swatch', { style: { background: color } }), label))),
      h('ul',
        h('li', h('span.swatch', { style: { background: NO_DATA } }), t('legend_no_data')),
        h('li', h('span.swatch.official'), t('legend_official')),
        h('li.legend-generated', h('span.swatch.generated'), t('legend_generated')),
        h('li', h('span.swatch.cluster'), t('legend_cases')),
      ),
    );
  }
}

// The upper bounds of the four count classes above zero, for counts up to `max`.
function countBounds(max) {
  return [1, 2, 3, 4].map((i) => Math.max(1, Math.ceil((max * i) / 4)));
}

function territoryPrefix(code) {
  const level = data.levelOf(code);
  return code.slice(0, { city: 4, district: 6, street: 9, community: 12, grid: 15 }[level]);
}

const layers = new Map();

// One level's GeoJSON at a zoom (rounded to even zooms to share the cache between nearby ones).
function layerAt(level, zoom) {
  const z = Math.min(22, zoom + (zoom % 2));
  const key = `${level}:${z}`;
  if (!layers.has(key)) {
    const promise = get(`/layers/${level}${qs({ zoom: z })}`);
    layers.set(key, promise);
    promise.catch(() => layers.delete(key));
  }
  return layers.get(key);
}
