# Client tests. Those against the real broker need the keybroker binary
# built first.
foreach(test client_test channel_test)
  keybroker_test(sdk_${test} SOURCES ${test}.cc LIBS keybroker_sdk keybroker_integration_testing)
  add_dependencies(sdk_${test} keybroker)
endforeach()
# The round trip through the server's ToGrpcStatus proves the inverse.
keybroker_test(sdk_grpc_status_test SOURCES grpc_status_test.cc
  LIBS keybroker_sdk keybroker_server_lib)
# WatchKeys against a scripted broker in the test process
# (tests/fakes/scripted_key_broker.h, which answers errors through the
# server's ToGrpcStatus). Not TSAN: it goes through gRPC.
keybroker_test(sdk_key_watch_test SOURCES key_watch_test.cc LIBS keybroker_sdk keybroker_server_lib)
# HTTP/2 keepalive of watches, between the SDK's channel and the broker's
# server arguments, with millisecond intervals (a relay that goes silent).
keybroker_test(sdk_keepalive_test SOURCES keepalive_test.cc LIBS keybroker_sdk keybroker_server_lib)
keybroker_test(sdk_reconnect_backoff_test SOURCES reconnect_backoff_test.cc LIBS keybroker_sdk TSAN)
