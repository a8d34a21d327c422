package xyz.dynamic.byoa.reactnative

import com.facebook.react.BaseReactPackage
import com.facebook.react.bridge.NativeModule
import com.facebook.react.bridge.ReactApplicationContext
import com.facebook.react.module.model.ReactModuleInfo
import com.facebook.react.module.model.ReactModuleInfoProvider

/** Registers [DynamicByoaModule] as the TurboModule `DynamicByoa` (autolinked by the app's build). */
class DynamicByoaPackage : BaseReactPackage() {
    override fun getModule(name: String, reactContext: ReactApplicationContext): NativeModule? =
        if (name == NativeDynamicByoaSpec.NAME) DynamicByoaModule(reactContext) else null

    override fun getReactModuleInfoProvider(): ReactModuleInfoProvider = object : ReactModuleInfoProvider {
        override fun getReactModuleInfos(): Map<String, ReactModuleInfo> = mapOf(
            NativeDynamicByoaSpec.NAME to ReactModuleInfo(
                NativeDynamicByoaSpec.NAME,
                DynamicByoaModule::class.java.name,
                false, // canOverrideExistingModule
                false, // needsEagerInit: created when JavaScript first looks it up
                false, // isCxxModule
                true, // isTurboModule
            ),
        )
    }
}
