{
  "targets": [
    {
      "target_name": "kvmlens",
      "sources": [
        "<!@(node -p \"require('fs').readFileSync('native/sources.txt','utf8').split(/\\s+/).filter(s=>s.startsWith('src/')).map(s=>'native/'+s).join(' ')\")",
        "<!@(node -p \"require('fs').readdirSync('native/src/addon').filter(f=>f.endsWith('.cc')).map(f=>'native/src/addon/'+f).join(' ')\")"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native/src"
      ],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O2", "-fvisibility=hidden"],
      "libraries": ["-lpthread"]
    }
  ]
}
