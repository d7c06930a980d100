// Sun times for tests/reference/veil_of_darkness_san_jose.R: sunset and dusk of every date in
// tests/data/san_jose_2013_2018_subset.csv at SOPP's San Jose centre point, by suncalc.js 1.9.0
// (the algorithm of R's `suncalc`, which SOPP uses), evaluated at 12:00 UTC of each date and
// expressed as local clock minutes after midnight, truncated (America/Los_Angeles, node's ICU).
// Run outside the repository:
//   mkdir /tmp/sunref && cd /tmp/sunref && npm install suncalc@1.9.0
//   NODE_PATH=/tmp/sunref/node_modules node crates/lantern/tests/reference/san_jose_sun_times.js \
//     > /tmp/san_jose_sun.csv
const fs = require('fs');
const SunCalc = require('suncalc');
const [lat, lng] = [37.3382082, -121.8863286];
const text = fs.readFileSync('crates/lantern/tests/data/san_jose_2013_2018_subset.csv', 'utf8');
const dates = new Set(text.split('\n').slice(1).filter((l) => l).map((l) => l.slice(0, 10)));
const fmt = new Intl.DateTimeFormat('en-US', {
  timeZone: 'America/Los_Angeles', hour12: false, hour: '2-digit', minute: '2-digit',
});
const minute = (d) => {
  const [h, m] = fmt.format(d).split(':').map(Number);
  return (h % 24) * 60 + m;
};
console.log('date,sunset_minute,dusk_minute');
for (const date of [...dates].sort()) {
  const t = SunCalc.getTimes(new Date(`${date}T12:00:00Z`), lat, lng);
  console.log(`${date},${minute(t.sunset)},${minute(t.dusk)}`);
}
