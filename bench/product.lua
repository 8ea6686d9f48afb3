-- wrk script: reads products by id, cycling through ids listed in $IDS_FILE.
local ids = {}
local counter = 0

function init(args)
  for line in io.lines(os.getenv("IDS_FILE")) do
    if #line > 0 then table.insert(ids, line) end
  end
end

function request()
  counter = counter + 1
  return wrk.format("GET", "/api/v1/catalog/products/" .. ids[(counter % #ids) + 1])
end
