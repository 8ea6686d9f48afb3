-- wrk script: cycles through bench/search-mix.txt against the search endpoint.
local queries = {}
local counter = 0

function init(args)
  for line in io.lines("bench/search-mix.txt") do
    if #line > 0 then table.insert(queries, line) end
  end
end

function request()
  counter = counter + 1
  local query = queries[(counter % #queries) + 1]
  return wrk.format("GET", "/api/v1/catalog/products?limit=20&" .. query)
end
