# Finds the three OpenCV libraries the project uses (core, imgproc,
# imgcodecs). Debian's component packages (libopencv-core-dev, ...) ship the
# libraries and headers but no OpenCVConfig.cmake (only the heavy
# libopencv-dev meta package does), so targets are made here.
find_path(OpenCVParts_INCLUDE_DIR opencv2/core.hpp PATH_SUFFIXES opencv4)
set(_parts core imgproc imgcodecs)
set(OpenCVParts_LIBRARIES)
foreach(part ${_parts})
  find_library(OpenCVParts_${part}_LIBRARY NAMES opencv_${part})
  if(OpenCVParts_${part}_LIBRARY AND NOT TARGET opencv_${part})
    add_library(opencv_${part} UNKNOWN IMPORTED)
    set_target_properties(opencv_${part} PROPERTIES
      IMPORTED_LOCATION "${OpenCVParts_${part}_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${OpenCVParts_INCLUDE_DIR}")
  endif()
  list(APPEND OpenCVParts_LIBRARIES ${OpenCVParts_${part}_LIBRARY})
endforeach()
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(OpenCVParts REQUIRED_VARS OpenCVParts_INCLUDE_DIR
  OpenCVParts_core_LIBRARY OpenCVParts_imgproc_LIBRARY OpenCVParts_imgcodecs_LIBRARY)
