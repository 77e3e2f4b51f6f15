// The intake form for citizens, hotline operators and inspectors: description, optional category
// (with the classifier's suggestions), the point picked on a map and located on its grid, an
// optional photo, and for the hotline the caller's name and phone.

import { get, post, qs } from './api.js';
import { session } from './app.js';
import { EMPTY, bbox, createMap, settle } from './mapkit.js';
import * as data from './data.js';
import { num, t } from './i18n.js';
import { clear, h, toast } from './ui.js';

const REPORTERS = ['citizen', 'volunteer', 'community_worker', 'hotline_operator', 'inspector', 'city_operator', 'district_operator', 'street_operator'];

export async function render(main) {
  if (!REPORTERS.includes(session.user.role)) {
    main.append(h('p.muted', t('intake_not_allowed')));
    return null;
  }
  const hotline = session.user.role === 'hotline_operator';
  const categories = await data.categories().catch(() => []);
  let point = null;
  let photoId = null;

  const description = h('textarea#intake-description', { name: 'description', required: true, maxLength: 4000 });
  const category = h(
    'select#intake-category',
    { name: 'category' },
    h('option', { value: '' }, t('intake_auto')),
    categories.filter((c) => c.active !== false).map((c) => h('option', { value: c.code }, `${c.code} ${c.name}`)),
  );
  const candidates = h('div.candidates#intake-candidates');
  const suggest = h('button#intake-suggest', {
    type: 'button',
    on: {
      click: async () => {
        if (!description.value.trim()) return;
        const answer = await post('/classify', { text: description.value });
        clear(
          candidates,
          answer.candidates.map((c) =>
            h('button', { type: 'button', dataset: { code: c.code }, on: { click: () => { category.value = c.code; } } }, `${c.code} ${c.name || ''} · ${t('confidence')} ${num(c.confidence * 100, 1)}%`),
          ),
        );
      },
    },
  }, t('intake_suggest'));
  const where = h('div.muted#intake-point', t('intake_point_none'));
  const photo = h('input#intake-photo', { type: 'file', accept: 'image/jpeg,image/png,image/webp' });
  const photoState = h('span.muted#intake-photo-state');
  photo.addEventListener('change', async () => {
    photoId = null;
    const file = photo.files[0];
    if (!file) return;
    try {
      const uploaded = await post('/photos', file);
      photoId = uploaded.id;
      photoState.textContent = `✓ ${file.name}`;
    } catch (error) {
      photoState.textContent = error.message;
    }
  });
  const result = h('div#intake-result', { role: 'status' });
  const form = h(
    'form.card#intake-form',
    { on: { submit: (event) => { event.preventDefault(); submit(); } } },
    h('h1', t('intake_title')),
    h('label', t('intake_description'), description),
    h('div', suggest, candidates),
    h('label', t('intake_category'), category),
    h('label', t('intake_address'), h('input#intake-address', { name: 'address', maxLength: 200 })),
    hotline ? h('label', t('intake_reporter_name'), h('input#intake-reporter-name', { name: 'reporter_name' })) : null,
    hotline ? h('label', t('intake_reporter_phone'), h('input#intake-reporter-phone', { name: 'reporter_phone', type: 'tel' })) : null,
    h('label', t('intake_photo'), photo, photoState),
    h('div', h('b', t('intake_point')), where),
    h('button.primary#intake-submit', { type: 'submit' }, t('intake_submit')),
    result,
  );
  const mapBox = h('div.pick-map#intake-map');
  main.append(h('section.intake', form, mapBox));

  const map = await createMap(mapBox);
  map.addSource('area', { type: 'geojson', data: EMPTY });
  map.addSource('point', { type: 'geojson', data: EMPTY });
  map.addLayer({ id: 'area-line', type: 'line', source: 'area', paint: { 'line-color': '#33415c', 'line-width': 2 } });
  map.addLayer({
    id: 'point',
    type: 'circle',
    source: 'point',
    paint: { 'circle-color': '#d7301f', 'circle-radius': 8, 'circle-stroke-color': '#fff', 'circle-stroke-width': 2 },
  });
  const home = session.user.territory || (await data.rootCode());
  if (home) {
    const area = await data.division(home, true).catch(() => null);
    if (area?.geometry) {
      map.getSource('area').setData({ type: 'Feature', properties: {}, geometry: area.geometry });
      map.fitBounds(bbox(area.geometry), { padding: 30, duration: 0 });
    }
  }
  map.getCanvas().style.cursor = 'crosshair';
  map.on('click', async (event) => {
    const { lng, lat } = event.lngLat;
    point = { lon: Number(lng.toFixed(6)), lat: Number(lat.toFixed(6)) };
    map.getSource('point').setData({ type: 'Feature', properties: {}, geometry: { type: 'Point', coordinates: [point.lon, point.lat] } });
    settle(map);
    try {
      const located = await get(`/locate${qs(point)}`);
      where.textContent = `${point.lon}, ${point.lat} · ${[located.district?.name, located.street?.name, located.community?.name].filter(Boolean).join(' / ')} · ${located.grid || ''}`;
      where.dataset.grid = located.grid || '';
    } catch (error) {
      where.textContent = `${point.lon}, ${point.lat} · ${error.message}`;
      where.dataset.grid = '';
    }
  });
  settle(map);

  async function submit() {
    clear(result);
    if (!description.value.trim()) {
      result.append(h('p.error', t('intake_need_description')));
      return;
    }
    if (!point) {
      result.append(h('p.error', t('intake_need_point')));
      return;
    }
    const values = Object.fromEntries(new FormData(form));
    const body = {
      description: description.value.trim(),
      location: point,
      category: category.value || undefined,
      address: values.address || undefined,
      photos: photoId ? [photoId] : undefined,
    };
    if (hotline && (values.reporter_name || values.reporter_phone)) {
      body.reporter = { name: values.reporter_name || undefined, phone: values.reporter_phone || undefined };
    }
    try {
      const answer = await post('/reports', body);
      const id = answer.case.id;
      clear(
        result,
        h('p.goal-ok', t('intake_done', { id, outcome: t(`outcome_${answer.outcome}`) })),
        h('a#intake-case-link', { href: `#/cases/${id}`, dataset: { case: id } }, t('open_case')),
      );
      toast(t('intake_done', { id, outcome: t(`outcome_${answer.outcome}`) }), 'success');
      form.reset();
      clear(candidates);
      photoId = null;
      photoState.textContent = '';
    } catch (error) {
      result.append(h('p.error#intake-error', { role: 'alert' }, t('intake_failed', { message: error.message })));
    }
  }

  return () => map.remove();
}
