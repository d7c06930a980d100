# Reference for tests/it/transparency_stats.rs (veil of darkness on the San Jose file).
#
# The Stanford Open Policing Project's veil-of-darkness test (lib/veil_of_darkness.R), step by
# step, on tests/data/san_jose_2013_2018_subset.csv with sun times from suncalc.js 1.9.0
# (san_jose_sun_times.js; R's `suncalc` runs the same algorithm):
#   keep Black and White subjects with a time; minute = hour * 60 + minute;
#   keep min(dusk_minute) <= minute <= max(dusk_minute) (over those rows);
#   drop sunset_minute <= minute <= dusk_minute; is_dark = minute >= dusk_minute;
#   rounded_minute = round(minute / 5) * 5; aggregate to cells; fit the binomial GLM.
# The file has no district, so the district forms use a stand-in: the quadrant of the stop
# around SOPP's centre point (N/S by latitude, E/W by longitude; "X" without coordinates).
#
# Run from the repository root (R 4.2.2, Debian bookworm):
#   Rscript crates/lantern/tests/reference/veil_of_darkness_san_jose.R /tmp/san_jose_sun.csv
suppressMessages(library(splines))
args <- commandArgs(trailingOnly = TRUE)
stops <- read.csv("crates/lantern/tests/data/san_jose_2013_2018_subset.csv",
                  stringsAsFactors = FALSE, na.strings = "NA")
sun <- read.csv(args[1], stringsAsFactors = FALSE)
d <- merge(stops, sun, by = "date")
d <- d[!is.na(d$subject_race) & d$subject_race %in% c("black", "white") & !is.na(d$time), ]
hm <- strsplit(d$time, ":")
d$minute <- sapply(hm, function(x) as.integer(x[1]) * 60 + as.integer(x[2]))
d$district <- ifelse(is.na(d$lat), "X",
                     paste0(ifelse(d$lat >= 37.3382082, "N", "S"),
                            ifelse(d$lng >= -121.8863286, "E", "W")))
lo <- min(d$dusk_minute); hi <- max(d$dusk_minute)
d <- d[d$minute >= lo & d$minute <= hi, ]
d <- d[!(d$minute >= d$sunset_minute & d$minute <= d$dusk_minute), ]
d$is_dark <- d$minute >= d$dusk_minute
d$rounded_minute <- round(d$minute / 5) * 5
cat(sprintf("window %d..%d, stops %d (black %d), dark %d\n", lo, hi, nrow(d),
            sum(d$subject_race == "black"), sum(d$is_dark)))

cells <- function(by) {
  a <- aggregate(cbind(n_black = d$subject_race == "black", n_white = d$subject_race == "white"),
                 by = d[by], FUN = sum)
  a
}
show <- function(name, fit) {
  s <- summary(fit)$coefficients["is_darkTRUE", ]
  cat(sprintf("%s: coef %.12f se %.12f z %.10f p %.12g cells %d\n", name,
              s[1], s[2], s[3], s[4], nrow(fit$data)))
}
c1 <- cells(c("is_dark", "rounded_minute"))
show("plain", glm(cbind(n_black, n_white) ~ is_dark + ns(rounded_minute, 6),
                  data = c1, family = binomial))
c2 <- cells(c("is_dark", "rounded_minute", "district"))
show("district", glm(cbind(n_black, n_white) ~ is_dark + ns(rounded_minute, 6) + district,
                     data = c2, family = binomial))
show("interaction", glm(cbind(n_black, n_white) ~ is_dark + ns(rounded_minute, 6) * district,
                        data = c2, family = binomial))

# Counts per race the import must store (stops, searches, searches with a recorded result, hits),
# and the search-rate ratio Black/White with its Katz interval (epitools::riskratio.wald form),
# each rate over the stops that recorded search_conducted (SOPP's mean(x, na.rm = TRUE)).
s <- stops
s$race <- ifelse(is.na(s$subject_race), "unknown", s$subject_race)
srch <- !is.na(s$search_conducted) & s$search_conducted
for (r in sort(unique(s$race))) {
  k <- s$race == r
  cat(sprintf("%s: stops %d searches %d with_outcome %d hits %d\n", r, sum(k), sum(k & srch),
              sum(k & srch & !is.na(s$contraband_found)),
              sum(k & srch & !is.na(s$contraband_found) & s$contraband_found)))
}
rec <- !is.na(s$search_conducted)
x1 <- sum(s$race == "black" & srch); n1 <- sum(s$race == "black" & rec)
x2 <- sum(s$race == "white" & srch); n2 <- sum(s$race == "white" & rec)
rr <- (x1 / n1) / (x2 / n2); se <- sqrt(1 / x1 - 1 / n1 + 1 / x2 - 1 / n2)
cat(sprintf("search ratio black/white %.12f (%.12f, %.12f) p %.12g\n", rr,
            exp(log(rr) - qnorm(0.975) * se), exp(log(rr) + qnorm(0.975) * se),
            2 * pnorm(-abs(log(rr) / se))))
