// SPDX-License-Identifier: Apache-2.0
// Settings → Storage: the storage report (GET /api/v1/storage, the figures
// of `vigil storage report`) in plant words, each line explained for plant
// IT (its title, and the glossary under the card).
import { api, h } from '../api.js';

// 1234567 → "1.2 MB" (decimal units, as disks are sold).
export function fmtBytes(b) {
  if (b === null || b === undefined || !Number.isFinite(+b)) return '—';
  const v = +b;
  if (Math.abs(v) < 1000) return `${Math.round(v)} B`;
  const units = ['kB', 'MB', 'GB', 'TB', 'PB'];
  let x = v, i = -1;
  while (Math.abs(x) >= 1000 && i < units.length - 1) { x /= 1000; ++i; }
  return `${x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2)} ${units[i]}`;
}

export function fmtCount(n) {
  if (n === null || n === undefined || !Number.isFinite(+n)) return '—';
  return Math.round(+n).toLocaleString('en-US');
}

// The projection line: "about N days until the disk is full at the current rate".
export function daysText(r) {
  const d = r.days_until_full;
  if (d === null || d === undefined || !Number.isFinite(+d)) {
    const span = r.oldest_ts && r.newest_ts ? Date.parse(r.newest_ts) - Date.parse(r.oldest_ts) : 0;
    if (span >= 86400e3) return 'the database is not growing: no projection';
    return 'less than a day of data: no projection yet';
  }
  const years = d / 365;
  const n = d >= 3650 ? `${Math.round(years)} years` : d >= 730 ? `${years.toFixed(1)} years`
    : d >= 2 ? `${fmtCount(d)} days` : d >= 1 ? '1 day' : 'less than a day';
  return `about ${n} until the disk is full at the current rate (${fmtBytes(r.growth_bytes_per_day)} a day)`;
}

// The lines of the card: [label, value, explanation].
export function storageLines(r) {
  const saved = r.waveform_raw_bytes > 0 ? 1 - r.waveform_bytes / r.waveform_raw_bytes : null;
  const when = (iso) => (iso ? new Date(iso).toLocaleString([], { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' }) : 'none yet');
  return [
    ['Database size', `${fmtBytes(r.db_file_bytes)}${r.wal_file_bytes ? ` + ${fmtBytes(r.wal_file_bytes)} write-ahead log` : ''}`,
      'The SQLite file that holds everything (readings, waveforms, alerts, settings), and its write-ahead log of changes not yet merged into it.'],
    ['Points stored', fmtCount(r.points),
      'Single sensor values (one metric at one time) kept at full resolution.'],
    ['Bytes per point', r.points > 0 && Number.isFinite(+r.bytes_per_point) ? `${(+r.bytes_per_point).toFixed(1)} B` : 'no points yet',
      'Disk space one stored value costs on average, compression, hourly summaries and database overhead included. A plain database row costs about 25 B.'],
    ['Waveforms', r.waveforms > 0
      ? `${fmtCount(r.waveforms)} · ${fmtBytes(r.bytes_per_waveform)} each · ${fmtBytes(r.waveform_bytes)} in all`
        + (saved !== null ? ` (compression saves ${Math.round(saved * 100)} %: ${fmtBytes(r.waveform_raw_bytes)} uncompressed)` : '')
      : 'none stored yet',
      'Raw vibration recordings the spectra are computed from. They are compressed without losing anything; the saving is against plain 16-bit samples.'],
    ['Free disk', r.disk_total_bytes > 0 ? `${fmtBytes(r.disk_free_bytes)} of ${fmtBytes(r.disk_total_bytes)}` : '—',
      'Free space on the card or disk that holds the database (other files on it count too).'],
    ['Until full', daysText(r),
      'How long the free space lasts if the database keeps growing as it has per day of data it holds. Shown once a day of data is stored.'],
    ['Data from', r.oldest_ts ? `${when(r.oldest_ts)} to ${when(r.newest_ts)}` : 'no data yet',
      'The oldest and the newest stored reading.'],
  ];
}

export async function storageCard() {
  const card = h('section.card.storage', { 'aria-labelledby': 'storage-h' }, h('h2', { id: 'storage-h' }, 'Storage'));
  let r;
  try { r = await api('/storage'); } catch (e) {
    card.append(h('p.error', 'The storage report could not be read: ' + e.message));
    return card;
  }
  const lines = storageLines(r);
  card.append(
    h('dl.kv-list.storage-list', lines.flatMap(([k, v, why]) => [
      h('dt', { title: why }, k), h('dd', { title: why, dataset: { field: k } }, v)])),
    h('details.storage-help', h('summary', 'What do these lines mean?'),
      h('dl', lines.flatMap(([k, , why]) => [h('dt', k), h('dd', why)])),
      h('p.muted.small', 'The same figures, and the bytes the gateway wrote to the disk (flash wear), come from ',
        h('code', 'vigil storage report'), ' on the gateway. The figures are refreshed at most once a minute.')));
  return card;
}
