# Reference for tests/intervals.rs (R 4.2.2, epitools 0.5-10.1).
# Run: Rscript crates/stats/tests/reference/intervals.R
suppressMessages(library(epitools))
f <- function(v) {
  s <- sprintf("%.17g", v)
  ifelse(grepl("[.eE]", s), s, paste0(s, ".0"))
}

# Wilson score interval = prop.test without continuity correction.
cat("// (successes, n, confidence, lower, upper) from prop.test(x, n, conf.level, correct = FALSE)\n")
cases <- list(c(0, 1), c(1, 1), c(0, 10), c(10, 10), c(3, 10), c(1, 3), c(17, 40),
              c(500, 1000), c(1, 1000), c(999, 1000), c(12345, 67890))
confs <- c(0.95, 0.9, 0.99)
rows <- character(0)
for (cs in cases) for (cl in confs) {
  ci <- suppressWarnings(prop.test(cs[1], cs[2], conf.level = cl, correct = FALSE))$conf.int
  rows <- c(rows, sprintf("    (%d, %d, %s, %s, %s),", cs[1], cs[2], f(cl), f(ci[1]), f(ci[2])))
}
cat(sprintf("const WILSON: [(u64, u64, f64, f64, f64); %d] = [\n", length(rows)))
cat(paste0(rows, "\n"), sep = ""); cat("];\n")

# Risk ratio with the Katz log interval: epitools::riskratio.wald.
# Row 1 of the table is the reference group (our x2/n2), row 2 the
# comparison group (our x1/n1); column 2 holds the "successes".
cat("// (x1, n1, x2, n2, confidence, estimate, lower, upper) from epitools::riskratio.wald\n")
rr <- list(c(30, 100, 20, 100), c(5, 12, 9, 40), c(7, 7, 3, 9), c(250, 4000, 300, 3500),
           c(1, 50, 1, 60))
rows <- character(0)
for (r in rr) for (cl in c(0.95, 0.9)) {
  x1 <- r[1]; n1 <- r[2]; x2 <- r[3]; n2 <- r[4]
  tab <- matrix(c(n2 - x2, n1 - x1, x2, x1), nrow = 2)
  m <- suppressWarnings(riskratio.wald(tab, conf.level = cl))$measure[2, ]
  rows <- c(rows, sprintf("    (%d, %d, %d, %d, %s, %s, %s, %s),", x1, n1, x2, n2, f(cl),
                          f(m[1]), f(m[2]), f(m[3])))
}
cat(sprintf("const RATIO: [RatioRow; %d] = [\n", length(rows)))
cat(paste0(rows, "\n"), sep = ""); cat("];\n")

# Means.
x <- c(12.5, 9.75, 14, 11.25, 8.5, 13, 10, 15.5, 9, 12)
cat(sprintf("const X: [f64; %d] = [%s];\n", length(x), paste(f(x), collapse = ", ")))
for (cl in c(0.95, 0.8)) {
  tt <- t.test(x, conf.level = cl)$conf.int
  z <- qnorm(1 - (1 - cl) / 2)
  nn <- mean(x) + c(-1, 1) * z * sd(x) / sqrt(length(x))
  cat(sprintf("// t.test(X, conf.level = %s)$conf.int and mean(X) -/+ qnorm * sd(X)/sqrt(n)\n", cl))
  cat(sprintf("const MEAN_T_%d: (f64, f64) = (%s, %s);\n", round(100 * cl), f(tt[1]), f(tt[2])))
  cat(sprintf("const MEAN_NORMAL_%d: (f64, f64) = (%s, %s);\n", round(100 * cl), f(nn[1]), f(nn[2])))
}
cat(sprintf("const MEAN_X: f64 = %s;\n", f(mean(x))))
x2 <- c(3, 4)
tt <- t.test(x2)$conf.int
cat(sprintf("// two values (df = 1): t.test(c(3, 4))$conf.int\nconst MEAN_T_TWO: (f64, f64) = (%s, %s);\n", f(tt[1]), f(tt[2])))

# Weighted mean and proportion with Kish effective n, from the formulas:
#   n_eff = sum(w)^2 / sum(w^2)
#   mean  = sum(w x) / sum(w); s2 = sum(w (x - mean)^2) / sum(w) * n_eff / (n_eff - 1)
#   mean -/+ qnorm(0.975) * sqrt(s2 / n_eff)
#   proportion: Wilson interval with n = n_eff at p = sum(w y) / sum(w)
w <- c(1.2, 0.8, 2.5, 1, 0.4, 3.1, 1.7, 0.9, 1.1, 2.2)
y <- c(1, 0, 1, 1, 0, 0, 1, 0, 0, 1)
cat(sprintf("const W: [f64; %d] = [%s];\n", length(w), paste(f(w), collapse = ", ")))
cat(sprintf("const Y: [bool; %d] = [%s];\n", length(y), paste(ifelse(y == 1, "true", "false"), collapse = ", ")))
neff <- sum(w)^2 / sum(w^2)
m <- sum(w * x) / sum(w)
s2 <- sum(w * (x - m)^2) / sum(w) * neff / (neff - 1)
z <- qnorm(0.975)
cat(sprintf("const N_EFF: f64 = %s;\n", f(neff)))
cat(sprintf("const WMEAN: (f64, f64, f64) = (%s, %s, %s);\n", f(m), f(m - z * sqrt(s2 / neff)), f(m + z * sqrt(s2 / neff))))
p <- sum(w * y) / sum(w)
# Wilson at non-integer n, written out (prop.test needs integer counts).
z22n <- z^2 / (2 * neff)
lo <- (p + z22n - z * sqrt(p * (1 - p) / neff + z22n / (2 * neff))) / (1 + 2 * z22n)
hi <- (p + z22n + z * sqrt(p * (1 - p) / neff + z22n / (2 * neff))) / (1 + 2 * z22n)
cat(sprintf("const WPROP: (f64, f64, f64) = (%s, %s, %s);\n", f(p), f(lo), f(hi)))


# Output (R 4.2.2), pasted into tests/intervals.rs:
#   // (successes, n, confidence, lower, upper) from prop.test(x, n, conf.level, correct = FALSE)
#   const WILSON: [(u64, u64, f64, f64, f64); 33] = [
#       (0, 1, 0.94999999999999996, 0.0, 0.79345068562276255),
#       (0, 1, 0.90000000000000002, 0.0, 0.73013405121594566),
#       (0, 1, 0.98999999999999999, 0.0, 0.86902245671981404),
#       (1, 1, 0.94999999999999996, 0.2065493143772375, 1.0),
#       (1, 1, 0.90000000000000002, 0.26986594878405434, 1.0),
#       (1, 1, 0.98999999999999999, 0.1309775432801859, 1.0),
#       (0, 10, 0.94999999999999996, 0.0, 0.27753279986288915),
#       (0, 10, 0.90000000000000002, 0.0, 0.21294197008340682),
#       (0, 10, 0.98999999999999999, 0.0, 0.39885409330490795),
#       (10, 10, 0.94999999999999996, 0.72246720013711085, 1.0),
#       (10, 10, 0.90000000000000002, 0.78705802991659313, 1.0),
#       (10, 10, 0.98999999999999999, 0.60114590669509194, 1.0),
#       (3, 10, 0.94999999999999996, 0.10779126740630104, 0.60322185253885452),
#       (3, 10, 0.90000000000000002, 0.12687658390319789, 0.55830020413016479),
#       (3, 10, 0.98999999999999999, 0.079566316523065797, 0.67997532079889733),
#       (1, 3, 0.94999999999999996, 0.061491944720396291, 0.79234039919795229),
#       (1, 3, 0.90000000000000002, 0.078265726333728428, 0.74646613171877574),
#       (1, 3, 0.98999999999999999, 0.040426629296084669, 0.85578398495233299),
#       (17, 40, 0.94999999999999996, 0.28509392559950375, 0.57804931458008924),
#       (17, 40, 0.90000000000000002, 0.30523413698015694, 0.55426888031666188),
#       (17, 40, 0.98999999999999999, 0.24890358835262447, 0.62243739367351325),
#       (500, 1000, 0.94999999999999996, 0.46906960036810419, 0.53093039963189581),
#       (500, 1000, 0.90000000000000002, 0.47402769147842011, 0.52597230852157983),
#       (500, 1000, 0.98999999999999999, 0.45940700521208488, 0.54059299478791523),
#       (1, 1000, 0.94999999999999996, 0.00017654637062607817, 0.0056425585979579338),
#       (1, 1000, 0.90000000000000002, 0.00022312384391207017, 0.0044697229093689271),
#       (1, 1000, 0.98999999999999999, 0.00011741635361832181, 0.0084605662199816918),
#       (999, 1000, 0.94999999999999996, 0.99435744140204207, 0.99982345362937386),
#       (999, 1000, 0.90000000000000002, 0.99553027709063102, 0.99977687615608779),
#       (999, 1000, 0.98999999999999999, 0.9915394337800183, 0.99988258364638161),
#       (12345, 67890, 0.94999999999999996, 0.17895489704038053, 0.1847576419503337),
#       (12345, 67890, 0.90000000000000002, 0.17941603158953409, 0.18428586165214503),
#       (12345, 67890, 0.98999999999999999, 0.17805633404720358, 0.18568238340486504),
#   ];
#   // (x1, n1, x2, n2, confidence, estimate, lower, upper) from epitools::riskratio.wald
#   const RATIO: [RatioRow; 10] = [
#       (30, 100, 20, 100, 0.94999999999999996, 1.4999999999999998, 0.915960829322366, 2.4564369217235682),
#       (30, 100, 20, 100, 0.90000000000000002, 1.4999999999999998, 0.9915552155341828, 2.2691625889818465),
#       (5, 12, 9, 40, 0.94999999999999996, 1.8518518518518519, 0.7661307947693633, 4.4762008062076513),
#       (5, 12, 9, 40, 0.90000000000000002, 1.8518518518518519, 0.88293341440376449, 3.8840474550653856),
#       (7, 7, 3, 9, 0.94999999999999996, 3.0, 1.1908607985710482, 7.5575583735726184),
#       (7, 7, 3, 9, 0.90000000000000002, 3.0, 1.3815704410302554, 6.5143258227851071),
#       (250, 4000, 300, 3500, 0.94999999999999996, 0.72916666666666663, 0.62036490212849804, 0.85705046490145953),
#       (250, 4000, 300, 3500, 0.90000000000000002, 0.72916666666666663, 0.63669324206033306, 0.83507094571516638),
#       (1, 50, 1, 60, 0.94999999999999996, 1.2, 0.076999194300172241, 18.701494386893582),
#       (1, 50, 1, 60, 0.90000000000000002, 1.2, 0.11974020419405948, 12.026035947510438),
#   ];
#   const X: [f64; 10] = [12.5, 9.75, 14.0, 11.25, 8.5, 13.0, 10.0, 15.5, 9.0, 12.0];
#   // t.test(X, conf.level = 0.95)$conf.int and mean(X) -/+ qnorm * sd(X)/sqrt(n)
#   const MEAN_T_95: (f64, f64) = (9.9265968337971007, 13.173403166202899);
#   const MEAN_NORMAL_95: (f64, f64) = (10.143461236702851, 12.95653876329715);
#   // t.test(X, conf.level = 0.8)$conf.int and mean(X) -/+ qnorm * sd(X)/sqrt(n)
#   const MEAN_T_80: (f64, f64) = (10.55749016479233, 12.542509835207669);
#   const MEAN_NORMAL_80: (f64, f64) = (10.630313736211008, 12.469686263788994);
#   const MEAN_X: f64 = 11.550000000000001;
#   // two values (df = 1): t.test(c(3, 4))$conf.int
#   const MEAN_T_TWO: (f64, f64) = (-2.8531023680873471, 9.8531023680873471);
#   const W: [f64; 10] = [1.2, 0.80000000000000004, 2.5, 1.0, 0.40000000000000002, 3.1000000000000001, 1.7, 0.90000000000000002, 1.1000000000000001, 2.2000000000000002];
#   const Y: [bool; 10] = [true, false, true, true, false, false, true, false, false, true];
#   const N_EFF: f64 = 7.6953206239168113;
#   const WMEAN: (f64, f64, f64) = (12.080536912751677, 10.685484378028129, 13.475589447475226);
#   const WPROP: (f64, f64, f64) = (0.57718120805369122, 0.26526388859715783, 0.83769970621990764);
