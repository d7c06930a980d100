// Reference for tests/sun.rs: sunset and dusk from suncalc.js 1.9.0 (the
// algorithm R's `suncalc` package runs), evaluated at 12:00 UTC of each date.
// Run outside the repository:
//   mkdir /tmp/sunref && cd /tmp/sunref && npm install suncalc@1.9.0
//   NODE_PATH=/tmp/sunref/node_modules node crates/stats/tests/reference/suncalc_times.js
// (node v20.20.2, suncalc 1.9.0). Local times are formatted by node's ICU time
// zone data, independently of the Rust side's chrono-tz.
const SunCalc = require('suncalc');

const places = {
  philadelphia: [39.9525839, -75.1652215, 'America/New_York'],
  los_angeles: [34.0522, -118.2437, 'America/Los_Angeles'],
  honolulu: [21.3069, -157.8583, 'Pacific/Honolulu'],
  anchorage: [61.2181, -149.9003, 'America/Anchorage'],
  sydney: [-33.8688, 151.2093, 'Australia/Sydney'],
  tromso: [69.6492, 18.9553, 'Europe/Oslo'],
};
const cases = [
  ['philadelphia', '2017-06-27'],
  ['philadelphia', '2017-12-07'],
  ['philadelphia', '2017-03-11'], // day before DST starts
  ['philadelphia', '2017-03-12'], // DST starts
  ['philadelphia', '2017-11-05'], // DST ends
  ['philadelphia', '2020-02-29'],
  ['los_angeles', '2018-07-04'],
  ['los_angeles', '2018-01-15'],
  ['honolulu', '2019-09-01'],
  ['anchorage', '2019-05-20'],   // dusk after local midnight (next local date)
  ['anchorage', '2019-06-21'],   // white night: no dusk
  ['anchorage', '2019-12-21'],
  ['sydney', '2016-12-25'],
  ['sydney', '2016-06-25'],
  ['tromso', '2021-12-20'],      // polar night: no sunset; dusk exists
  ['tromso', '2021-06-21'],      // midnight sun: neither
];

function local(d, tz) {
  if (isNaN(d.valueOf())) return null;
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
  }).formatToParts(d);
  const get = (t) => parts.find((p) => p.type === t).value;
  return `${get('year')}-${get('month')}-${get('day')} ${get('hour')}:${get('minute')}:${get('second')}`;
}
const ms = (d) => (isNaN(d.valueOf()) ? 'None' : `Some(${d.valueOf()})`);
const str = (s) => (s === null ? 'None' : `Some("${s}")`);

console.log('// (place, date, sunset ms, sunset local, dusk ms, dusk local)');
console.log(`const SUNCALC: [SunRow; ${cases.length}] = [`);
for (const [place, date] of cases) {
  const [lat, lng, tz] = places[place];
  const t = SunCalc.getTimes(new Date(`${date}T12:00:00Z`), lat, lng);
  console.log(`    ("${place}", "${date}", ${ms(t.sunset)}, ${str(local(t.sunset, tz))}, ${ms(t.dusk)}, ${str(local(t.dusk, tz))}),`);
}
console.log('];');


// Output (node v20.20.2, suncalc 1.9.0), pasted into tests/sun.rs:
//   // (place, date, sunset ms, sunset local, dusk ms, dusk local)
//   const SUNCALC: [SunRow; 16] = [
//       ("philadelphia", "2017-06-27", Some(1498610080591), Some("2017-06-27 20:34:40"), Some(1498612046727), Some("2017-06-27 21:07:26")),
//       ("philadelphia", "2017-12-07", Some(1512682613427), Some("2017-12-07 16:36:53"), Some(1512684429253), Some("2017-12-07 17:07:09")),
//       ("philadelphia", "2017-03-11", Some(1489273465529), Some("2017-03-11 18:04:25"), Some(1489275084382), Some("2017-03-11 18:31:24")),
//       ("philadelphia", "2017-03-12", Some(1489359928050), Some("2017-03-12 19:05:28"), Some(1489361546518), Some("2017-03-12 19:32:26")),
//       ("philadelphia", "2017-11-05", Some(1509918922639), Some("2017-11-05 16:55:22"), Some(1509920622245), Some("2017-11-05 17:23:42")),
//       ("philadelphia", "2020-02-29", Some(1583016772582), Some("2020-02-29 17:52:52"), Some(1583018403632), Some("2020-02-29 18:20:03")),
//       ("los_angeles", "2018-07-04", Some(1530760157494), Some("2018-07-04 20:09:17"), Some(1530761898506), Some("2018-07-04 20:38:18")),
//       ("los_angeles", "2018-01-15", Some(1516064856263), Some("2018-01-15 17:07:36"), Some(1516066485561), Some("2018-01-15 17:34:45")),
//       ("honolulu", "2019-09-01", Some(1567399773173), Some("2019-09-01 18:49:33"), Some(1567401125807), Some("2019-09-01 19:12:05")),
//       ("anchorage", "2019-05-20", Some(1558421611558), Some("2019-05-20 22:53:31"), Some(1558426247683), Some("2019-05-21 00:10:47")),
//       ("anchorage", "2019-06-21", Some(1561189430718), Some("2019-06-21 23:43:50"), None, None),
//       ("anchorage", "2019-12-21", Some(1576975344841), Some("2019-12-21 15:42:24"), Some(1576979087398), Some("2019-12-21 16:44:47")),
//       ("sydney", "2016-12-25", Some(1482656911675), Some("2016-12-25 20:08:31"), Some(1482658660186), Some("2016-12-25 20:37:40")),
//       ("sydney", "2016-06-25", Some(1466837763295), Some("2016-06-25 16:56:03"), Some(1466839426043), Some("2016-06-25 17:23:46")),
//       ("tromso", "2021-12-20", None, None, Some(1640004850967), Some("2021-12-20 13:54:10")),
//       ("tromso", "2021-06-21", None, None, None, None),
//   ];
