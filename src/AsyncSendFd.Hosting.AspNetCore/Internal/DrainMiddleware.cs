using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

namespace AsyncSendFd.Hosting.AspNetCore.Internal;

/// <summary>
/// First in the request pipeline: once this generation drains, HTTP/1.x responses say <c>Connection: close</c>
/// (decided when the response starts, so a request that began before the hand-over gets it too) and an HTTP/2
/// request makes its connection go away; either way the client moves to the successor on its own.
/// </summary>
internal sealed class DrainMiddleware : IStartupFilter
{
    private static readonly Func<object, Task> s_closeIfDraining = static state =>
    {
        var context = (HttpContext)state;
        if (context.Features.Get<DrainingConnection>()!.Drain.IsDraining && context.Response.StatusCode != StatusCodes.Status101SwitchingProtocols)
        {
            context.Response.Headers.Connection = "close";
        }

        return Task.CompletedTask;
    };

    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.Use(static next => context => Invoke(context, next));
        next(app);
    };

    private static Task Invoke(HttpContext context, RequestDelegate next)
    {
        // Only connections an upgradable listener accepted carry the feature.
        if (context.Features.Get<DrainingConnection>() is { } connection)
        {
            if (HttpProtocol.IsHttp2(context.Request.Protocol))
            {
                connection.OnHttp2Request();
            }
            else if (!HttpProtocol.IsHttp3(context.Request.Protocol))
            {
                context.Response.OnStarting(s_closeIfDraining, context);
            }
        }

        return next(context);
    }
}
