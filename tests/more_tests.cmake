# Tests of the layers above model/ (need gRPC, OpenCV, prometheus-cpp).
# Included from tests/CMakeLists.txt when the full tree is built.

# NVML stand-in for the GPU-metrics test (there is no driver here).
add_library(fake_nvml SHARED support/fake_nvml.cc)
add_executable(server_unit_tests server/batcher_test.cc server/encode_cache_test.cc server/codec_test.cc
  server/decode_slots_test.cc server/server_flags_test.cc server/batch_runner_test.cc
  server/memory_model_test.cc
  server/serving_parts_test.cc server/metrics_endpoint_test.cc)
target_link_libraries(server_unit_tests PRIVATE ctrlfuse_server_core ctrlfuse_civetweb_fix GTest::gtest
  GTest::gtest_main)
target_compile_definitions(server_unit_tests PRIVATE CTRLFUSE_FAKE_NVML="$<TARGET_FILE:fake_nvml>"
  CTRLFUSE_TEST_VERSION="${PROJECT_VERSION}")
add_dependencies(server_unit_tests fake_nvml)
gtest_discover_tests(server_unit_tests PROPERTIES LABELS server DISCOVERY_TIMEOUT 60)

add_executable(server_tests server/server_test.cc server/listen_auth_test.cc server/drain_limits_test.cc)
target_link_libraries(server_tests PRIVATE ctrlfuse_server_core ctrlfuse_client ctrlfuse_health_proto
  ctrlfuse_civetweb_fix GTest::gtest GTest::gtest_main)
# One process for the suite: the shared servers start once (a metrics endpoint takes
# ~2 s to stop).
add_test(NAME server_tests COMMAND server_tests)
set_tests_properties(server_tests PROPERTIES LABELS server TIMEOUT 900)

# Text prompts (Grounded-SAM) through the server: labels grounding and server.
add_executable(text_prompt_tests server/text_prompt_test.cc)
target_link_libraries(text_prompt_tests PRIVATE ctrlfuse_server_core ctrlfuse_client ctrlfuse_civetweb_fix
  GTest::gtest GTest::gtest_main)
add_test(NAME text_prompt_tests COMMAND text_prompt_tests)
set_tests_properties(text_prompt_tests PROPERTIES LABELS "grounding;server" TIMEOUT 900)

add_executable(process_tests server/process_test.cc)
target_link_libraries(process_tests PRIVATE ctrlfuse_client ctrlfuse_health_proto ctrlfuse_image GTest::gtest GTest::gtest_main)
target_compile_definitions(process_tests PRIVATE CTRLFUSE_SERVER_BINARY="$<TARGET_FILE:ctrlfuse-server>")
add_dependencies(process_tests ctrlfuse-server)
add_test(NAME process_tests COMMAND process_tests)
set_tests_properties(process_tests PROPERTIES LABELS server TIMEOUT 600)

foreach(t server_unit_tests server_tests text_prompt_tests process_tests)
  target_include_directories(${t} PRIVATE ${PROJECT_SOURCE_DIR})
endforeach()

add_executable(quality_tests quality/quality_test.cc quality/kernels_test.cc)
target_link_libraries(quality_tests PRIVATE ctrlfuse_quality opencv_imgcodecs GTest::gtest GTest::gtest_main)
target_include_directories(quality_tests PRIVATE ${PROJECT_SOURCE_DIR})
target_compile_definitions(quality_tests PRIVATE CTRLFUSE_EVAL_BINARY="$<TARGET_FILE:ctrlfuse-eval>"
  CTRLFUSE_PYTHON="${CTRLFUSE_PYTHON}")
add_dependencies(quality_tests ctrlfuse-eval)
gtest_discover_tests(quality_tests PROPERTIES LABELS quality DISCOVERY_TIMEOUT 60)

# The client's commands against a real ctrlfuse-server process.
add_executable(client_unit_tests client/client_parts_test.cc)
target_link_libraries(client_unit_tests PRIVATE ctrlfuse_client GTest::gtest GTest::gtest_main)
gtest_discover_tests(client_unit_tests PROPERTIES LABELS client DISCOVERY_TIMEOUT 60)
add_test(NAME client_cli_traps COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/client/cli_traps_test.sh ${CMAKE_BINARY_DIR})
set_tests_properties(client_cli_traps PROPERTIES LABELS client TIMEOUT 600 ENVIRONMENT CTRLFUSE_PYTHON=${CTRLFUSE_PYTHON})
if(CTRLFUSE_PYCLIENT_PYTHON)
  add_test(NAME python_client
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/client/python_client_test.sh ${CTRLFUSE_PYCLIENT_PYTHON} ${CMAKE_BINARY_DIR})
  set_tests_properties(python_client PROPERTIES LABELS client TIMEOUT 600)
endif()
if(CTRLFUSE_KSERVE_PYTHON)
  add_test(NAME kserve_v2 COMMAND ${CTRLFUSE_KSERVE_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/client/kserve_test.py
    ${CMAKE_BINARY_DIR})
  set_tests_properties(kserve_v2 PROPERTIES LABELS client TIMEOUT 600)
endif()
add_test(NAME client_tls COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/client/tls_test.sh ${CMAKE_BINARY_DIR})
set_tests_properties(client_tls PROPERTIES LABELS client TIMEOUT 600)
add_test(NAME client_cli COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/client/client_cli_test.sh ${CMAKE_BINARY_DIR})
set_tests_properties(client_cli PROPERTIES LABELS client TIMEOUT 900 ENVIRONMENT CTRLFUSE_PYTHON=${CTRLFUSE_PYTHON})

add_executable(train_tests train/train_test.cc)
target_link_libraries(train_tests PRIVATE ctrlfuse_train ctrlfuse_train_data GTest::gtest GTest::gtest_main)
target_include_directories(train_tests PRIVATE ${PROJECT_SOURCE_DIR})
target_compile_definitions(train_tests PRIVATE CTRLFUSE_PYTHON="${CTRLFUSE_PYTHON}")
if(CTRLFUSE_USE_PCH)
  target_precompile_headers(train_tests REUSE_FROM ctrlfuse_model)
endif()
gtest_discover_tests(train_tests PROPERTIES LABELS train DISCOVERY_TIMEOUT 60)

# The shipped demo model, through the engine: the prompt steers it.
add_executable(bundled_model_tests train/bundled_model_test.cc model/grey_opencv_test.cc)
target_link_libraries(bundled_model_tests PRIVATE ctrlfuse_engine ctrlfuse_model ctrlfuse_image ctrlfuse_quality opencv_imgproc GTest::gtest
                                                  GTest::gtest_main)
target_include_directories(bundled_model_tests PRIVATE ${PROJECT_SOURCE_DIR})
target_compile_definitions(bundled_model_tests PRIVATE
  CTRLFUSE_BUNDLED_MODEL="${PROJECT_SOURCE_DIR}/models/tiny-demo.pth")
if(CTRLFUSE_USE_PCH)
  target_precompile_headers(bundled_model_tests REUSE_FROM ctrlfuse_model)
endif()
gtest_discover_tests(bundled_model_tests PROPERTIES LABELS train DISCOVERY_TIMEOUT 60)

# The real Prometheus server scraping a real ctrlfuse-server.
add_test(NAME contact_sheet COMMAND ${CTRLFUSE_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/tools/contact_sheet_test.py
  ${CMAKE_BINARY_DIR})
set_tests_properties(contact_sheet PROPERTIES LABELS client TIMEOUT 300)
add_test(NAME prometheus_scrape COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/server/prometheus_scrape_test.sh ${CMAKE_BINARY_DIR})
set_tests_properties(prometheus_scrape PROPERTIES LABELS server TIMEOUT 300 ENVIRONMENT CTRLFUSE_PYTHON=${CTRLFUSE_PYTHON})

# deploy/: manifests render and validate, rules unit-tested, the image's
# build steps, and the dashboard and alerts against a live server and a real
# Prometheus (the deployment checks' own Python environment, see setup.sh).
if(CTRLFUSE_DEPLOY_PYTHON)
  add_test(NAME deploy_manifests COMMAND ${CTRLFUSE_DEPLOY_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/deploy/manifests_test.py)
  set_tests_properties(deploy_manifests PROPERTIES LABELS deploy TIMEOUT 300)
  add_test(NAME deploy_dashboard_e2e
    COMMAND ${CTRLFUSE_DEPLOY_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/deploy/dashboard_e2e_test.py ${CMAKE_BINARY_DIR})
  set_tests_properties(deploy_dashboard_e2e PROPERTIES LABELS deploy TIMEOUT 600)
  add_test(NAME deploy_image_build COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/deploy/image_build_test.sh ${CMAKE_BINARY_DIR})
  set_tests_properties(deploy_image_build PROPERTIES LABELS deploy TIMEOUT 600)
endif()
