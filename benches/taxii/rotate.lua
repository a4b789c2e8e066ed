-- wrk script: each request GETs a path picked at random from the file named by BENCH_PATHS
-- (one path per line), e.g. get-by-id over many object ids. Headers come from wrk's -H flags.
local paths = {}
for line in io.lines(os.getenv("BENCH_PATHS")) do
  if #line > 0 then paths[#paths + 1] = line end
end
math.randomseed(os.time())

request = function()
  return wrk.format("GET", paths[math.random(#paths)])
end
