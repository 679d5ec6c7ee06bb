-- wrk script: POST /send-notification/user<N>@example.com, a distinct email per request.
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("POST", "/send-notification/user" .. counter .. "@example.com")
end
