# Reference for tests/rake.rs: R survey::rake on the apiclus1 data.
# Run from the repository root:
#   Rscript crates/stats/tests/reference/rake_apiclus1.R
# (R 4.2.2, survey 4.1-1, Debian bookworm packages r-base-core r-cran-survey)
suppressMessages(library(survey))
options(digits = 15)
apiclus1 <- read.csv("crates/stats/tests/data/apiclus1.csv")
# Same data as the copy shipped with the survey package.
api_env <- new.env()
data(api, package = "survey", envir = api_env)
stopifnot(isTRUE(all.equal(apiclus1$pw, api_env$apiclus1$pw)),
          all(apiclus1$stype == as.character(api_env$apiclus1$stype)),
          all(apiclus1$sch.wide == as.character(api_env$apiclus1$sch.wide)),
          all(apiclus1$api00 == api_env$apiclus1$api00))
dclus1 <- svydesign(id = ~dnum, weights = ~pw, data = apiclus1, fpc = ~fpc)
pop.types <- data.frame(stype = c("E", "H", "M"), Freq = c(4421, 755, 1018))
pop.schwide <- data.frame(sch.wide = c("No", "Yes"), Freq = c(1072, 5122))
rk <- function(maxit, epsilon = 1)
  rake(dclus1, list(~stype, ~sch.wide), list(pop.types, pop.schwide),
       control = list(maxit = maxit, epsilon = epsilon))
r <- rk(10)
w <- weights(r)
cat("raked weight by cell (stype/sch.wide):\n")
cells <- unique(data.frame(stype = apiclus1$stype, sch.wide = apiclus1$sch.wide))
cells <- cells[order(cells$stype, cells$sch.wide), ]
for (i in seq_len(nrow(cells))) {
  ww <- unique(w[apiclus1$stype == cells$stype[i] & apiclus1$sch.wide == cells$sch.wide[i]])
  cat(sprintf("%s/%s %.15g (distinct values in cell: %d)\n", cells$stype[i], cells$sch.wide[i], ww[1], length(ww)))
}
cat(sprintf("weighted mean api00: %.15g\n", coef(svymean(~api00, r))))
cat(sprintf("sum of raked weights: %.15g\n", sum(w)))
# Number of cycles: the smallest maxit that converges without a warning.
cycles <- function(epsilon) {
  for (k in 1:10) {
    ok <- TRUE
    withCallingHandlers(rk(k, epsilon), warning = function(w) { ok <<- FALSE; invokeRestart("muffleWarning") })
    if (ok) return(k)
  }
  NA
}
cat(sprintf("cycles to converge, epsilon = 1: %d\n", cycles(1)))
cat(sprintf("cycles to converge, epsilon = 1e-9 (relative, as R reads epsilon < 1): %s\n", cycles(1e-9)))
r2 <- rk(10, 1e-9)
w2 <- weights(r2)
for (i in seq_len(nrow(cells))) {
  ww <- unique(w2[apiclus1$stype == cells$stype[i] & apiclus1$sch.wide == cells$sch.wide[i]])
  cat(sprintf("epsilon 1e-9: %s/%s %.15g\n", cells$stype[i], cells$sch.wide[i], ww[1]))
}
# Two cycles only (not converged), to pin the order of operations.
r3 <- suppressWarnings(rk(1, 1e-12))
w3 <- weights(r3)
for (i in seq_len(nrow(cells))) {
  ww <- unique(w3[apiclus1$stype == cells$stype[i] & apiclus1$sch.wide == cells$sch.wide[i]])
  cat(sprintf("maxit 1: %s/%s %.15g\n", cells$stype[i], cells$sch.wide[i], ww[1]))
}

# Output (R 4.2.2, survey 4.1-1):
#   raked weight by cell (stype/sch.wide):
#   E/No 39.838509410554 (distinct values in cell: 1)
#   E/Yes 29.8704638727345 (distinct values in cell: 1)
#   H/No 67.1257826263304 (distinct values in cell: 1)
#   H/Yes 50.3301527726751 (distinct values in cell: 1)
#   M/No 49.0700673992952 (distinct values in cell: 1)
#   M/Yes 36.7921816646833 (distinct values in cell: 1)
#   weighted mean api00: 641.230246862209
#   sum of raked weights: 6194
#   cycles to converge, epsilon = 1: 4
#   cycles to converge, epsilon = 1e-9 (relative, as R reads epsilon < 1): 9
#   epsilon 1e-9: E/No 39.839236244693
#   epsilon 1e-9: E/Yes 29.8706754919752
#   epsilon 1e-9: H/No 67.1255292420443
#   epsilon 1e-9: H/Yes 50.3294011185593
#   epsilon 1e-9: M/No 49.0690721671939
#   epsilon 1e-9: M/Yes 36.7910248679482
#   maxit 1: E/No 38.4501581159089
#   maxit 1: E/Yes 29.4588620596767
#   maxit 1: H/No 67.5396838201056
#   maxit 1: H/Yes 51.746009033639
#   maxit 1: M/No 50.9973813935971
#   maxit 1: M/Yes 39.0720063972145
