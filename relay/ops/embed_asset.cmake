# Writes a C++ source whose function `std::string_view ringcast::relay::FUNCTION()` returns the
# bytes of INPUT, as one raw string literal: assets are compiled in with CMake alone.
# cmake -DINPUT=page.html -DOUTPUT=page.cpp -DFUNCTION=name -DHEADER=ringcast/ops/x.h -P embed_asset.cmake
foreach(argument INPUT OUTPUT FUNCTION HEADER)
  if(NOT DEFINED ${argument})
    message(FATAL_ERROR "embed_asset.cmake: -D${argument}= is missing")
  endif()
endforeach()

file(READ "${INPUT}" content)
# The literal ends at the first `)delimiter"`: the asset must not contain one.
set(delimiter "ringcast_asset")
string(FIND "${content}" ")${delimiter}\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${INPUT} contains ')${delimiter}\"', which would end the raw string early")
endif()

get_filename_component(input_name "${INPUT}" NAME)
file(WRITE "${OUTPUT}"
  "// Generated from ${input_name} by embed_asset.cmake at build time: do not edit.\n"
  "#include \"${HEADER}\"\n\n"
  "namespace ringcast::relay {\n\n"
  "std::string_view ${FUNCTION}() {\n"
  "  static constexpr std::string_view kText = R\"${delimiter}(${content})${delimiter}\";\n"
  "  return kText;\n"
  "}\n\n"
  "}  // namespace ringcast::relay\n")
